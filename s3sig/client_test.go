package s3sig

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestURLAddressing(t *testing.T) {
	aws, _ := New(Config{Credentials: docsCreds, Region: "eu-west-1"})
	custom, _ := New(Config{Credentials: docsCreds, Endpoint: "http://127.0.0.1:9000/base/"})
	tests := []struct {
		name        string
		c           *Client
		bucket, key string
		want        string
	}{
		{"AWS is virtual-hosted", aws, "logs", "20261124/a b.log.gz", "https://logs.s3.eu-west-1.amazonaws.com/20261124/a%20b.log.gz"},
		{"AWS with a dotted bucket is path-style", aws, "logs.example.com", "k", "https://s3.eu-west-1.amazonaws.com/logs.example.com/k"},
		{"custom endpoint is path-style", custom, "logs", "d/k", "http://127.0.0.1:9000/base/logs/d/k"},
		{"bucket itself", custom, "logs", "", "http://127.0.0.1:9000/base/logs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.URL(tc.bucket, tc.key, nil).String(); got != tc.want {
				t.Errorf("URL = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte(
		"[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[ci]\naws_access_key_id=CI\naws_secret_access_key=cisecret\naws_session_token=tok\n"), 0o600)
	os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[profile ci]\nregion = eu-central-1\n[profile cfgonly]\naws_access_key_id = CFG\naws_secret_access_key = cfgsecret\nregion = ap-south-1\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		want Config
		err  bool
	}{
		{"environment keys win", map[string]string{"HOME": home, "AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-west-2"},
			Config{Credentials: Credentials{AccessKeyID: "ENV", SecretAccessKey: "s"}, Region: "us-west-2"}, false},
		{"default profile", map[string]string{"HOME": home},
			Config{Credentials: Credentials{AccessKeyID: "DEF", SecretAccessKey: "defsecret"}, Region: "us-east-1"}, false},
		{"named profile with its region", map[string]string{"HOME": home, "AWS_PROFILE": "ci"},
			Config{Credentials: Credentials{AccessKeyID: "CI", SecretAccessKey: "cisecret", SessionToken: "tok"}, Region: "eu-central-1"}, false},
		{"AWS_REGION beats AWS_DEFAULT_REGION; S3 endpoint beats the general one", map[string]string{"HOME": home, "AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2",
			"AWS_ENDPOINT_URL": "http://general", "AWS_ENDPOINT_URL_S3": "http://s3only"},
			Config{Credentials: Credentials{AccessKeyID: "DEF", SecretAccessKey: "defsecret"}, Region: "r1", Endpoint: "http://s3only"}, false},
		{"keys in the config file", map[string]string{"HOME": home, "AWS_PROFILE": "cfgonly"},
			Config{Credentials: Credentials{AccessKeyID: "CFG", SecretAccessKey: "cfgsecret"}, Region: "ap-south-1"}, false},
		{"no credentials anywhere", map[string]string{"HOME": t.TempDir()}, Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.err {
				if !errors.Is(err, ErrNoCredentials) {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Credentials != tc.want.Credentials || cfg.Region != tc.want.Region || cfg.Endpoint != tc.want.Endpoint {
				t.Errorf("got %+v, want %+v", cfg, tc.want)
			}
		})
	}
}

// A local server that fails on purpose shows which failures are retried: a
// fault S3 cannot be asked to produce.
func TestRetriesOnlyWhereSafe(t *testing.T) {
	var calls atomic.Int32
	fail := 2
	status := http.StatusInternalServerError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(calls.Add(1)) <= fail {
			w.WriteHeader(status)
			w.Write([]byte("<Error><Code>InternalError</Code><Message>try again</Message><RequestId>R1</RequestId></Error>"))
			return
		}
		w.Write([]byte(`<InitiateMultipartUploadResult><UploadId>u</UploadId></InitiateMultipartUploadResult>`))
	}))
	defer srv.Close()
	c, _ := New(Config{Credentials: docsCreds, Endpoint: srv.URL, RetryBase: time.Millisecond})
	ctx := context.Background()

	calls.Store(0)
	if _, err := c.HeadObject(ctx, "b", "k"); err != nil || calls.Load() != 3 {
		t.Errorf("HEAD after two 500s: err %v after %d calls, want success after 3", err, calls.Load())
	}

	calls.Store(0)
	_, err := c.do(ctx, request{op: "create multipart upload", method: http.MethodPost, bucket: "b", key: "k"})
	if err == nil || calls.Load() != 1 || !strings.Contains(err.Error(), "request id R1") {
		t.Errorf("POST after a 500: err %v after %d calls, want the error after 1", err, calls.Load())
	}

	status = http.StatusServiceUnavailable // throttling: nothing was done, so even POST retries
	calls.Store(0)
	resp, err := c.do(ctx, request{op: "create multipart upload", method: http.MethodPost, bucket: "b", key: "k"})
	if err != nil || calls.Load() != 3 {
		t.Errorf("POST after two 503s: err %v after %d calls", err, calls.Load())
	} else {
		resp.Body.Close()
	}

	fail = 100
	calls.Store(0)
	if _, err := c.HeadObject(ctx, "b", "k"); err == nil || calls.Load() != 5 {
		t.Errorf("HEAD failing forever: err %v after %d calls, want 5 tries", err, calls.Load())
	}
}

func TestParseErrorWithoutBody(t *testing.T) {
	e := ParseError(404, http.Header{"X-Amz-Request-Id": {"abc"}}, nil)
	if e.Code != "NotFound" || e.RequestID != "abc" || !IsNotFound(e) {
		t.Errorf("%+v", e)
	}
}

func FuzzParseListPage(f *testing.F) {
	f.Add([]byte(`<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken><EncodingType>url</EncodingType><Contents><Key>a%2Fb</Key><Size>3</Size><ETag>"x"</ETag><LastModified>2026-11-24T00:00:00.000Z</LastModified></Contents></ListBucketResult>`))
	f.Add([]byte(`<ListBucketResult><Contents><Key>%zz</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseListPage(strings.NewReader(string(b)))
	})
}

func FuzzParseError(f *testing.F) {
	f.Add([]byte(`<Error><Code>NoSuchBucket</Code><Message>m</Message><RequestId>r</RequestId><BucketName>b</BucketName></Error>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := ParseError(400, http.Header{}, b)
		_ = e.Error()
	})
}
