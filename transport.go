package ox

import (
	"io"
	"net/http"
	"sync"
)

// Transport wraps base (nil: http.DefaultTransport) so that each request made
// with a context carrying an open event becomes a sub-event ".httpclient",
// recording request.uri (without a password), request.method, request.size (the
// body's length when known), response.code and response.size, counted as the
// response body is read, or error when the request fails. The sub-event is
// finished when the body has been read to its end or closed: close response
// bodies, as net/http asks anyway.
//
// Requests without an event in their context pass through untouched:
//
//	client := &http.Client{Transport: ox.Transport(nil)}
//	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base}
}

type transport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !FromContext(req.Context()).Enabled() {
		return t.base.RoundTrip(req)
	}
	_, ev := Start(req.Context(), ".httpclient")
	ev.Set("request.uri", req.URL.Redacted())
	ev.Set("request.method", req.Method)
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		ev.Set("request.size", 0)
	case req.ContentLength > 0:
		ev.Set("request.size", req.ContentLength)
	default:
		// Unknown length: count the body as the transport sends it. A
		// RoundTripper must not change the caller's request, so send a copy.
		ev.Set("request.size", 0)
		req = req.Clone(req.Context())
		req.Body = &countingRequestBody{ReadCloser: req.Body, ev: ev}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		ev.Set("error", err.Error())
		ev.Done()
		return resp, err
	}
	ev.Set("response.code", resp.StatusCode)
	if resp.Body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		// No body, or a connection the caller takes over (its Body is writable).
		ev.Done()
		return resp, nil
	}
	resp.Body = &countingResponseBody{rc: resp.Body, ev: ev}
	return resp, nil
}

// countingRequestBody sums the bytes of a request body of unknown length.
type countingRequestBody struct {
	io.ReadCloser
	ev *Event
}

func (b *countingRequestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.ev.Add("request.size", n)
	return n, err
}

// countingResponseBody sums the bytes read and finishes the event at the end of
// the body or on Close, whichever comes first.
type countingResponseBody struct {
	rc   io.ReadCloser
	ev   *Event
	mu   sync.Mutex
	size int64
	done bool
}

func (b *countingResponseBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.size += int64(n)
	if err != nil && err != io.EOF {
		b.ev.Set("response.error", err.Error())
	}
	if err != nil {
		b.finishLocked()
	}
	b.mu.Unlock()
	return n, err
}

func (b *countingResponseBody) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	b.finishLocked()
	b.mu.Unlock()
	return err
}

func (b *countingResponseBody) finishLocked() {
	if b.done {
		return
	}
	b.done = true
	b.ev.Set("response.size", b.size)
	b.ev.Done()
}
