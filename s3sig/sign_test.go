package s3sig

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The examples from AWS's S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk"), each intermediate
// value checked on its own.
var docsCreds = Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
var docsTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func TestSignReproducesAWSS3Examples(t *testing.T) {
	tests := []struct {
		name        string
		method, url string
		headers     map[string]string
		payloadHash string
		creq, sts   string
		signed, sig string
	}{
		{
			name:        "GET Object with a range",
			method:      "GET",
			url:         "https://examplebucket.s3.amazonaws.com/test.txt",
			headers:     map[string]string{"Range": "bytes=0-9"},
			payloadHash: EmptyPayloadHash,
			creq: "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n" +
				"x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
				"x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			sts:    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
			signed: "host;range;x-amz-content-sha256;x-amz-date",
			sig:    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name:   "PUT Object with a reserved character in the key",
			method: "PUT",
			url:    "https://examplebucket.s3.amazonaws.com/test$file.text",
			headers: map[string]string{
				"Date":                "Fri, 24 May 2013 00:00:00 GMT",
				"X-Amz-Storage-Class": "REDUCED_REDUNDANCY",
			},
			payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			creq: "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n" +
				"x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n" +
				"x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n" +
				"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" +
				"44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			sts:    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
			signed: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			sig:    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name:        "GET Bucket lifecycle with a valueless parameter",
			method:      "GET",
			url:         "https://examplebucket.s3.amazonaws.com/?lifecycle",
			payloadHash: EmptyPayloadHash,
			creq: "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n" +
				"x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
				"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			sts:    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
			signed: "host;x-amz-content-sha256;x-amz-date",
			sig:    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name:        "GET Bucket (list objects) with query parameters",
			method:      "GET",
			url:         "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
			payloadHash: EmptyPayloadHash,
			creq: "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n" +
				"x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
				"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			sts:    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\ndf57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
			signed: "host;x-amz-content-sha256;x-amz-date",
			sig:    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			urlBefore := req.URL.String()
			if err := Sign(req, docsCreds, "us-east-1", "s3", tc.payloadHash, docsTime); err != nil {
				t.Fatal(err)
			}
			creq, signed := CanonicalRequest(req, "s3", tc.payloadHash)
			if creq != tc.creq {
				t.Errorf("canonical request:\n%s\nwant:\n%s", creq, tc.creq)
			}
			if signed != tc.signed {
				t.Errorf("signed headers %q, want %q", signed, tc.signed)
			}
			sts := StringToSign(creq, "us-east-1", "s3", docsTime)
			if sts != tc.sts {
				t.Errorf("string to sign:\n%s\nwant:\n%s", sts, tc.sts)
			}
			if sig := Signature(SigningKey(docsCreds.SecretAccessKey, "us-east-1", "s3", docsTime), tc.sts); sig != tc.sig {
				t.Errorf("signature %s, want %s", sig, tc.sig)
			}
			want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=" +
				tc.signed + ", Signature=" + tc.sig
			if got := req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization:\n%s\nwant:\n%s", got, want)
			}
			if req.URL.String() != urlBefore {
				t.Errorf("Sign rewrote the URL: %s -> %s", urlBefore, req.URL)
			}
		})
	}
}

// Cases from AWS's SigV4 test suite (service "service", key AKIDEXAMPLE), which
// cover other services and temporary credentials.
func TestSignReproducesAWSTestSuite(t *testing.T) {
	creds := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	token := "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
	tests := []struct {
		name, method, url string
		token             string
		want              string
	}{
		{
			name: "get-vanilla-query-order-key-case sorts parameters", method: "GET",
			url:  "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			want: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		},
		{
			name: "post-sts-header-before signs the session token", method: "POST",
			url: "https://example.amazonaws.com/", token: token,
			want: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, nil)
			c := creds
			c.SessionToken = tc.token
			if err := Sign(req, c, "us-east-1", "service", EmptyPayloadHash, now); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != tc.want {
				t.Errorf("Authorization:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.token != "" && req.Header.Get("X-Amz-Security-Token") != tc.token {
				t.Error("session token header missing")
			}
		})
	}
}

func TestSignRejectsMissingCredentials(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://example.com/", nil)
	if err := Sign(req, Credentials{AccessKeyID: "a"}, "us-east-1", "s3", "", docsTime); err == nil {
		t.Fatal("signed without a secret")
	}
}

func TestEscapePathEncodesAllButUnreserved(t *testing.T) {
	for in, want := range map[string]string{
		"/a b/c+d":           "/a%20b/c%2Bd",
		"/20261124/x-1.gz":   "/20261124/x-1.gz",
		"/é~_":               "/%C3%A9~_",
		"/test$file.text":    "/test%24file.text",
		"/key?with=query&ch": "/key%3Fwith%3Dquery%26ch",
	} {
		if got := EscapePath(in); got != want {
			t.Errorf("EscapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHashPayloadStreams(t *testing.T) {
	got, err := HashPayload(strings.NewReader("Welcome to Amazon S3."))
	if err != nil {
		t.Fatal(err)
	}
	if got != "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" {
		t.Fatalf("hash %s", got)
	}
}
