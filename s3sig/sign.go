// Package s3sig signs requests with AWS Signature Version 4 and talks to the few
// S3 operations ox needs (put, get, head, list, delete), against AWS or any
// S3-compatible store such as MinIO.
//
// The signer is a set of pure functions: the time is passed in, and the caller's
// URL is never rewritten. The client streams request and response bodies; it
// never holds a whole object in memory.
package s3sig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Credentials are an AWS access key pair, with the session token of temporary
// credentials (empty for long-term keys).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

const (
	// Algorithm is the signing algorithm named in the Authorization header.
	Algorithm = "AWS4-HMAC-SHA256"
	// UnsignedPayload stands in for the payload hash when the body is not hashed.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// EmptyPayloadHash is the hex SHA-256 of an empty body.
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	amzDateFormat = "20060102T150405Z"
)

// ignoredHeaders are never signed: they are added or changed on the way
// (User-Agent by proxies, Authorization by the signer itself, Expect and
// Transfer-Encoding by the transport), so signing them would break requests.
var ignoredHeaders = map[string]bool{
	"authorization":     true,
	"user-agent":        true,
	"x-amzn-trace-id":   true,
	"expect":            true,
	"transfer-encoding": true,
	"accept-encoding":   true,
	"connection":        true,
}

// HashPayload returns the hex SHA-256 of everything r yields, reading it in
// small pieces, so a body of any size can be hashed without holding it.
func HashPayload(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("s3sig: hash payload: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Sign adds the SigV4 headers to req: X-Amz-Date, X-Amz-Security-Token when the
// credentials carry a session token, X-Amz-Content-Sha256 for service "s3", and
// Authorization. payloadHash is the hex SHA-256 of the body (EmptyPayloadHash for
// none) or UnsignedPayload. Every other header already on req is signed, except
// those a transport or proxy may change (User-Agent, Expect, ...). req.URL is
// read, never modified.
func Sign(req *http.Request, creds Credentials, region, service, payloadHash string, now time.Time) error {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("s3sig: sign: missing access key id or secret access key")
	}
	if region == "" || service == "" {
		return errors.New("s3sig: sign: missing region or service")
	}
	if payloadHash == "" {
		payloadHash = EmptyPayloadHash
	}
	now = now.UTC()
	req.Header.Set("X-Amz-Date", now.Format(amzDateFormat))
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	creq, signed := CanonicalRequest(req, service, payloadHash)
	sts := StringToSign(creq, region, service, now)
	sig := Signature(SigningKey(creds.SecretAccessKey, region, service, now), sts)
	req.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		Algorithm, creds.AccessKeyID, Scope(region, service, now), signed, sig))
	return nil
}

// Scope is the credential scope: "<YYYYMMDD>/<region>/<service>/aws4_request".
func Scope(region, service string, now time.Time) string {
	return now.UTC().Format("20060102") + "/" + region + "/" + service + "/aws4_request"
}

// CanonicalRequest returns the canonical request of req as SigV4 defines it, and
// the semicolon-separated list of signed header names. The Host header is always
// signed (from req.Host, else req.URL.Host). For service "s3" the path is encoded
// once and not normalised; for other services it is encoded twice, as AWS requires.
func CanonicalRequest(req *http.Request, service, payloadHash string) (canonical, signedHeaders string) {
	var b strings.Builder
	b.WriteString(req.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(req.URL, service))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(req.URL.RawQuery))
	b.WriteByte('\n')

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string]string{"host": strings.TrimSpace(host)}
	names := []string{"host"}
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		if ignoredHeaders[lk] || lk == "host" {
			continue
		}
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = collapseSpaces(v)
		}
		if _, ok := values[lk]; !ok {
			names = append(names, lk)
			values[lk] = strings.Join(trimmed, ",")
		} else {
			values[lk] += "," + strings.Join(trimmed, ",")
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(values[n])
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	signedHeaders = strings.Join(names, ";")
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), signedHeaders
}

// StringToSign returns the string to sign for a canonical request.
func StringToSign(canonicalRequest, region, service string, now time.Time) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + now.UTC().Format(amzDateFormat) + "\n" +
		Scope(region, service, now) + "\n" + hex.EncodeToString(h[:])
}

// SigningKey derives the signing key for one day, region and service.
func SigningKey(secret, region, service string, now time.Time) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), now.UTC().Format("20060102"))
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// Signature returns the hex HMAC-SHA256 of the string to sign under the key.
func Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func canonicalURI(u *url.URL, service string) string {
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p == "" {
		return "/"
	}
	if service == "s3" {
		return EscapePath(p)
	}
	return EscapePath(EscapePath(p))
}

// EscapePath URI-encodes a path the way SigV4 and S3 expect: every byte except
// the unreserved characters A-Z a-z 0-9 - . _ ~ and the slash becomes %XX.
func EscapePath(p string) string { return escape(p, true) }

func escape(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		pairs = append(pairs, kv{escape(k, false), escape(v, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}
