package s3sig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Error is an error response from S3: the HTTP status and, when the server sent
// an XML body, its code, message and request id.
type Error struct {
	StatusCode int
	Code       string // e.g. "NoSuchBucket", "SignatureDoesNotMatch"
	Message    string
	RequestID  string
	Bucket     string
	Key        string
}

// Error reads as one line naming the problem, e.g.
// "SignatureDoesNotMatch: the secret key is wrong (...)".
func (e *Error) Error() string {
	var b bytes.Buffer
	code := e.Code
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	b.WriteString(code)
	if hint := hints[e.Code]; hint != "" {
		b.WriteString(": " + hint)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
	if e.Bucket != "" {
		fmt.Fprintf(&b, ", bucket %q", e.Bucket)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request id %s", e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// hints say in plain words what the usual codes mean for a user of ox.
var hints = map[string]string{
	"SignatureDoesNotMatch":        "signature mismatch, the secret key (AWS_SECRET_ACCESS_KEY) is probably wrong",
	"InvalidAccessKeyId":           "the access key (AWS_ACCESS_KEY_ID) is unknown to the server",
	"NoSuchBucket":                 "the bucket does not exist",
	"AccessDenied":                 "the credentials may not do this",
	"RequestTimeTooSkewed":         "the local clock is too far off",
	"AuthorizationHeaderMalformed": "the region may be wrong (AWS_DEFAULT_REGION)",
}

// IsNotFound reports whether err is an S3 "no such key/bucket" (HTTP 404) error.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// Code returns the S3 error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	Bucket    string   `xml:"BucketName"`
	Key       string   `xml:"Key"`
}

// ParseError turns an error response into an *Error. body may be empty (HEAD) or
// not XML at all; the status and headers still give a useful error.
func ParseError(status int, header http.Header, body []byte) *Error {
	e := &Error{StatusCode: status, RequestID: header.Get("X-Amz-Request-Id")}
	var x xmlError
	if len(bytes.TrimSpace(body)) > 0 && xml.Unmarshal(body, &x) == nil {
		e.Code, e.Message, e.Bucket, e.Key = x.Code, x.Message, x.Bucket, x.Key
		if x.RequestID != "" {
			e.RequestID = x.RequestID
		}
	}
	if e.Code == "" {
		e.Code = header.Get("X-Minio-Error-Code")
		if e.Message == "" {
			e.Message = header.Get("X-Minio-Error-Desc")
		}
	}
	if e.Code == "" {
		switch status {
		case http.StatusNotFound:
			e.Code = "NotFound"
		case http.StatusForbidden:
			e.Code = "Forbidden"
		}
	}
	return e
}
