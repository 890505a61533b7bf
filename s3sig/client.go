package s3sig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Client calls S3 with SigV4-signed requests. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint *url.URL // nil for AWS
	http     *http.Client
}

// New returns a client for cfg, filling in defaults.
func New(cfg Config) (*Client, error) {
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return nil, ErrNoCredentials
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 16 << 20
	}
	if cfg.PartSize < 5<<20 {
		return nil, fmt.Errorf("s3: part size %d is below the S3 minimum of 5 MiB", cfg.PartSize)
	}
	if cfg.MultipartThreshold == 0 {
		cfg.MultipartThreshold = cfg.PartSize
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 2 * time.Minute
		t.MaxIdleConnsPerHost = 16
		c.http = &http.Client{Transport: t}
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint %q is not an http(s) URL", cfg.Endpoint)
		}
		c.endpoint = u
	}
	return c, nil
}

// Region is the region requests are signed for.
func (c *Client) Region() string { return c.cfg.Region }

// PartSize is the multipart part size used by PutObject.
func (c *Client) PartSize() int64 { return c.cfg.PartSize }

// URL returns the URL of an object (key "" for the bucket itself): path-style
// on a custom endpoint and for bucket names with dots (their TLS names would not
// match AWS's wildcard certificate), virtual-hosted on AWS otherwise.
func (c *Client) URL(bucket, key string, query url.Values) *url.URL {
	u := &url.URL{Scheme: "https", Host: "s3." + c.cfg.Region + ".amazonaws.com"}
	prefix := ""
	pathStyle := true
	if c.endpoint != nil {
		u.Scheme, u.Host = c.endpoint.Scheme, c.endpoint.Host
		prefix = strings.TrimSuffix(c.endpoint.Path, "/")
	} else if !strings.Contains(bucket, ".") && bucket != "" {
		pathStyle = false
		u.Host = bucket + "." + u.Host
	}
	p := prefix + "/"
	if pathStyle && bucket != "" {
		p += bucket
		if key != "" {
			p += "/"
		}
	}
	p += key
	u.Path = p
	u.RawPath = EscapePath(p)
	u.RawQuery = encodeQuery(query)
	return u
}

func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k, false))
			b.WriteByte('=')
			b.WriteString(escape(v, false))
		}
	}
	return b.String()
}

// request is one S3 call; body, when set, returns a fresh reader for each try.
type request struct {
	op          string // for messages: "put object", ...
	method      string
	bucket, key string
	query       url.Values
	header      http.Header
	body        func() io.Reader
	size        int64
	payloadHash string
	// idempotent requests are retried after broken connections and 5xx; others
	// only after throttling, which S3 answers before doing anything.
	idempotent bool
}

// do sends r, retrying where safe, and returns a 2xx response whose body the
// caller must close, or an error: *Error for S3 error responses.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			d := c.cfg.RetryBase << (attempt - 1)
			d = d/2 + rand.N(d/2+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("s3: %s %s: %w (last error: %v)", r.op, r.target(), ctx.Err(), lastErr)
			case <-t.C:
			}
		}
		resp, err := c.send(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("s3: %s %s: %w", r.op, r.target(), ctx.Err())
			}
			lastErr = c.netError(r, err)
			if r.idempotent {
				continue
			}
			return nil, lastErr
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		e := ParseError(resp.StatusCode, resp.Header, body)
		if e.Bucket == "" {
			e.Bucket = r.bucket
		}
		lastErr = fmt.Errorf("s3: %s %s: %w", r.op, r.target(), e)
		throttled := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable ||
			e.Code == "SlowDown" || e.Code == "Throttling"
		retry := throttled || (r.idempotent && (resp.StatusCode >= 500 || e.Code == "RequestTimeout"))
		if !retry {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

func (r request) target() string {
	if r.key == "" {
		return r.bucket
	}
	return r.bucket + "/" + r.key
}

func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.URL(r.bucket, r.key, r.query)
	var body io.Reader
	if r.body != nil {
		body = r.body()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL = u // keep RawPath exactly as signed
	if r.body != nil {
		req.ContentLength = r.size
		if r.size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	// Objects come back exactly as stored: no transparent gzip decoding.
	req.Header.Set("Accept-Encoding", "identity")
	hash := r.payloadHash
	if hash == "" {
		hash = EmptyPayloadHash
	}
	if err := Sign(req, c.cfg.Credentials, c.cfg.Region, "s3", hash, c.cfg.Now()); err != nil {
		return nil, err
	}
	return c.http.Do(req)
}

// netError says in one line that the endpoint could not be reached, when so.
func (c *Client) netError(r request, err error) error {
	var op *net.OpError
	var dns *net.DNSError
	host := c.URL(r.bucket, "", nil).Host
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") {
		return fmt.Errorf("s3: %s %s: endpoint %s unreachable: %w", r.op, r.target(), host, err)
	}
	return fmt.Errorf("s3: %s %s: %w", r.op, r.target(), err)
}
