// Package esbulk sends documents to Elasticsearch (or any store that speaks its bulk
// API) with POST <node>/_bulk, batching by document count, by bytes and by time.
//
// A Writer reads the bulk response item by item: documents rejected with a
// retryable status (429, 502, 503, 504) are sent again with backoff and jitter,
// documents rejected for good are reported through Config.OnFailure, and whole
// requests that fail (connection refused, 5xx, timeout) are retried on the next
// configured node. Nothing is dropped silently: a document is either indexed or
// handed to OnFailure, and Stats counts both.
package esbulk

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultNode           = "localhost:9200"
	DefaultFlushDocs      = 500
	DefaultFlushBytes     = 5 << 20
	DefaultFlushInterval  = time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxRetries     = 5
)

// maxResponseBytes bounds how much of a bulk response is read (a response to a
// 500-document request is tens of KiB; this is a guard against a broken peer).
const maxResponseBytes = 64 << 20

// maxKeptResponse is the largest response buffer kept for the next request.
const maxKeptResponse = 1 << 20

// ErrClosed is returned by Add, Flush and Close once the Writer is closed.
var ErrClosed = errors.New("esbulk: writer closed")

// Doc is one document to index.
type Doc struct {
	// Index is the target index (Elasticsearch's _index). It may be empty when the
	// node URL names the index or the store does not use one.
	Index string
	// ID is the document's _id. Empty lets the store choose one; a deterministic
	// ID makes a retried batch overwrite instead of duplicating.
	ID string
	// Action is the bulk action: "index" (the default when empty) or "create".
	Action string
	// Body is the document: one JSON object. Line breaks between tokens are
	// removed; a body that is not a JSON object is rejected by Add.
	Body []byte
}

// Failure describes a document that was not indexed and will not be retried.
// Doc.Body is valid only during the OnFailure call; copy it to keep it.
type Failure struct {
	Doc    Doc
	Status int    // HTTP status of the item or of the whole request; 0 when no response came
	Type   string // the store's error type, e.g. "mapper_parsing_exception"
	Reason string // the store's reason, or the transport error
	Err    error  // the transport error when the request itself failed
}

// String gives the status, error type and reason, as "status 400:
// mapper_parsing_exception: failed to parse field [pid]", or the transport error.
func (f Failure) String() string {
	var b strings.Builder
	if f.Status != 0 {
		fmt.Fprintf(&b, "status %d", f.Status)
	}
	for _, s := range []string{f.Type, f.Reason} {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	if b.Len() == 0 && f.Err != nil {
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Stats are the Writer's counters since it was created.
type Stats struct {
	Added    int64 // documents accepted by Add
	Sent     int64 // document transmissions, retries included
	Indexed  int64 // documents the store accepted (2xx)
	Retried  int64 // document transmissions that were retries
	Failed   int64 // documents reported to OnFailure
	Bytes    int64 // request body bytes sent, retries included
	Requests int64 // bulk requests attempted
}

// Config configures a Writer. Zero values mean the defaults.
type Config struct {
	// Nodes are "host:port" or full URLs ("https://user:pass@es:9200/prefix?x=y").
	// The bulk endpoint is the URL's path followed by /_bulk, with its query kept.
	// Default: localhost:9200. A failing request moves on to the next node.
	Nodes []string
	// Username and Password give HTTP basic auth (userinfo in a node URL also does).
	Username, Password string
	// APIKey is sent as "Authorization: ApiKey <APIKey>" (the base64 "id:key" form
	// Elasticsearch hands out). It takes precedence over basic auth.
	APIKey string
	// Header is added to every request.
	Header http.Header
	// Client sends the requests; default a client with its own keep-alive pool.
	Client *http.Client
	// FlushDocs flushes when this many documents are buffered (default 500).
	FlushDocs int
	// FlushBytes flushes before a document that would take the request body past
	// this size (default 5 MiB). A larger single document is sent alone.
	FlushBytes int
	// FlushInterval flushes a buffer this old, so a trickle is not held back
	// (default 1 s; negative turns time-based flushing off).
	FlushInterval time.Duration
	// RequestTimeout bounds each HTTP request (default 10 s).
	RequestTimeout time.Duration
	// MaxRetries is how many times a batch (or what is left of it) is sent again
	// after a retryable failure (default 5; negative means never).
	MaxRetries int
	// Backoff returns the wait before retry number attempt (1, 2, ...). Default:
	// exponential from 100 ms, capped at 10 s, with jitter.
	Backoff func(attempt int) time.Duration
	// OnFailure is called, in the goroutine that flushed, for each document that
	// failed for good. It must not call the Writer's methods.
	OnFailure func(Failure)
}

// Writer batches documents and sends them with the bulk API. Its methods are safe
// for concurrent use. A Writer must be closed to release its flush timer and to
// send what is still buffered.
type Writer struct {
	cfg   Config
	nodes []*url.URL
	err   error // configuration error, returned by every call

	sem    chan struct{} // held while the buffer is changed or sent
	bg     context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	// guarded by sem
	buf    []byte
	items  []item
	last   int          // size of the previous batch, to size the next buffer
	action []byte       // scratch for an action line
	resp   bytes.Buffer // the last response body
	spare  []byte       // a sent batch's buffer, free for the next batch
	timer  *time.Timer
	gen    uint64 // bumped when the buffer is taken; stale timers see a new value
	node   int
	failed int64 // failures since the last Flush returned

	// request bodies the HTTP client has not closed yet: while there are any,
	// a sent buffer may still be read and is not reused
	bodies atomic.Int64

	stats struct {
		added, sent, indexed, retried, failed, bytes, requests atomic.Int64
	}
}

// item is one buffered document: its two NDJSON lines are buf[off:end].
type item struct {
	doc      Doc // without Body, which is buf[body:end-1]
	off, end int
	body     int
	// why the store last rejected it with a retryable status
	status      int
	typ, reason string
}

// full returns the item's document with its body, which lives in buf.
func (it item) full(buf []byte) Doc {
	d := it.doc
	d.Body = buf[it.body : it.end-1]
	return d
}

// NewWriter returns a Writer for cfg. An invalid node is reported by the first
// call to Add, Flush or Close; use ParseNode to check nodes beforehand.
func NewWriter(cfg Config) *Writer {
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{DefaultNode}
	}
	if cfg.FlushDocs <= 0 {
		cfg.FlushDocs = DefaultFlushDocs
	}
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = DefaultFlushBytes
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 4
		cfg.Client = &http.Client{Transport: t}
	}
	w := &Writer{cfg: cfg, sem: make(chan struct{}, 1)}
	w.bg, w.cancel = context.WithCancel(context.Background())
	for _, n := range cfg.Nodes {
		u, err := ParseNode(n)
		if err != nil {
			w.err = err
			break
		}
		w.nodes = append(w.nodes, u)
	}
	return w
}

// ParseNode turns "host:port", "host" (port 9200) or a full http(s) URL into the
// node's base URL, or says why it cannot.
func ParseNode(s string) (*url.URL, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return nil, fmt.Errorf("esbulk: empty node address")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("esbulk: node %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("esbulk: node %q: scheme must be http or https", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("esbulk: node %q: no host", s)
	}
	if u.Port() == "" {
		u.Host += ":9200"
		if strings.HasPrefix(u.Hostname(), "[") || strings.Contains(u.Hostname(), ":") {
			u.Host = "[" + u.Hostname() + "]:9200"
		}
	}
	u.Fragment = ""
	return u, nil
}

// DefaultBackoff waits 100 ms before the first retry, doubling up to 10 s, each
// wait drawn uniformly from its upper half so that writers do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < 10*time.Second; i++ {
		d *= 2
	}
	d = min(d, 10*time.Second)
	return d/2 + rand.N(d/2+1)
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	s := &w.stats
	return Stats{
		Added: s.added.Load(), Sent: s.sent.Load(), Indexed: s.indexed.Load(),
		Retried: s.retried.Load(), Failed: s.failed.Load(), Bytes: s.bytes.Load(),
		Requests: s.requests.Load(),
	}
}

func (w *Writer) lock(ctx context.Context) error {
	select {
	case w.sem <- struct{}{}: // a free lock wins over an ended ctx
		return nil
	default:
	}
	select {
	case w.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) unlock() { <-w.sem }

// Add copies doc into the buffer (the caller may reuse doc.Body afterwards),
// sending the buffer first when doc would take it past FlushBytes and
// afterwards when it holds FlushDocs documents. A send blocks the
// caller (that is the back-pressure); its outcome is reported per document
// through OnFailure and Stats, so Add's error only concerns doc itself, the
// Writer's state or ctx.
func (w *Writer) Add(ctx context.Context, doc Doc) error {
	if w.err != nil {
		return w.err
	}
	body, err := checkBody(doc)
	if err != nil {
		return err
	}
	if err := w.lock(ctx); err != nil {
		return err
	}
	defer w.unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	w.action = appendAction(w.action[:0], doc)
	size := len(w.action) + len(body) + 1
	if len(w.items) > 0 && len(w.buf)+size > w.cfg.FlushBytes {
		w.sendBuffered(ctx)
	}
	if w.buf == nil {
		w.buf, w.spare = w.spare, nil
		if cap(w.buf) < size {
			// Batches are alike: start at the size of the previous one.
			w.buf = make([]byte, 0, max(w.last+w.last/8, size, 4096))
		}
	}
	off := len(w.buf)
	w.buf = append(w.buf, w.action...)
	bodyOff := len(w.buf)
	w.buf = append(append(w.buf, body...), '\n')
	doc.Body = nil
	w.items = append(w.items, item{doc: doc, off: off, end: len(w.buf), body: bodyOff})
	w.stats.added.Add(1)
	if len(w.items) >= w.cfg.FlushDocs || len(w.buf) >= w.cfg.FlushBytes {
		w.sendBuffered(ctx)
	} else if len(w.items) == 1 && w.cfg.FlushInterval > 0 {
		w.armTimer()
	}
	return nil
}

// armTimer schedules a flush of the current buffer generation.
func (w *Writer) armTimer() {
	gen := w.gen
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(w.cfg.FlushInterval, func() {
		if w.lock(w.bg) != nil {
			return
		}
		defer w.unlock()
		if w.gen == gen && len(w.items) > 0 && !w.closed.Load() {
			w.sendBuffered(w.bg)
		}
	})
}

// Flush sends everything buffered and waits for the outcome. It returns an error
// when ctx ends first or when some documents failed for good since the previous
// Flush (they were reported to OnFailure).
func (w *Writer) Flush(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	if err := w.lock(ctx); err != nil {
		return err
	}
	defer w.unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	return w.flushLocked(ctx)
}

func (w *Writer) flushLocked(ctx context.Context) error {
	if len(w.items) > 0 {
		w.sendBuffered(ctx)
	}
	n := w.failed
	w.failed = 0
	if n > 0 {
		return fmt.Errorf("esbulk: %d documents failed", n)
	}
	return ctx.Err()
}

// Close sends what is buffered and stops the Writer. It returns an error when ctx
// ends before everything was sent, or when any document failed for good during
// the Writer's life. Later calls return ErrClosed; so do Add and Flush.
func (w *Writer) Close(ctx context.Context) error {
	if err := w.lock(ctx); err != nil {
		// A background flush holds the lock; make it give up, then take over.
		w.cancel()
		if err := w.lock(context.Background()); err != nil {
			return err
		}
	}
	defer w.unlock()
	if w.closed.Swap(true) {
		return ErrClosed
	}
	defer w.cancel()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.err != nil {
		for _, it := range w.items {
			w.fail(Failure{Doc: it.full(w.buf), Reason: w.err.Error(), Err: w.err})
		}
		return w.err
	}
	w.flushLocked(ctx)
	if n := w.stats.failed.Load(); n > 0 {
		return fmt.Errorf("esbulk: %d of %d documents failed", n, w.stats.added.Load())
	}
	return ctx.Err()
}

func (w *Writer) fail(f Failure) {
	w.failed++
	w.stats.failed.Add(1)
	if w.cfg.OnFailure != nil {
		w.cfg.OnFailure(f)
	}
}

// sendBuffered takes the buffer and sends it, retrying as configured, until every
// document is indexed or reported failed. The caller holds the lock.
func (w *Writer) sendBuffered(ctx context.Context) {
	buf, items := w.buf, w.items
	w.buf, w.items, w.last = nil, nil, len(buf)
	w.gen++
	if w.timer != nil {
		w.timer.Stop()
	}
	w.send(ctx, buf, items)
	// Keep the buffers for the next batch, unless the HTTP client may still be
	// reading the request (it closes a request body when it is done with it).
	if w.bodies.Load() == 0 {
		w.spare = buf[:0]
	}
	clear(items)
	w.items = items[:0]
}

// outcome of one bulk request.
type outcome struct {
	retry     []item // documents to send again
	err       error  // whole-request failure (transport or status)
	status    int    // whole-request status when there was one
	permanent bool   // err is not worth retrying
}

func (w *Writer) send(ctx context.Context, buf []byte, items []item) {
	var last outcome
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > w.cfg.MaxRetries {
				break
			}
			if err := sleep(ctx, w.cfg.Backoff(attempt)); err != nil {
				last = outcome{retry: items, err: err}
				break
			}
			w.stats.retried.Add(int64(len(items)))
		}
		last = w.do(ctx, buf, items)
		if last.err == nil && len(last.retry) == 0 {
			return
		}
		if last.err != nil {
			// The whole request failed: the same batch goes to the next node.
			w.node = (w.node + 1) % len(w.nodes)
			if last.permanent || ctx.Err() != nil {
				break
			}
			continue
		}
		// Some items were rejected with a retryable status: send only those.
		items = last.retry
		buf = rebuild(buf, items)
	}
	for _, it := range last.retry {
		f := Failure{Doc: it.full(buf), Status: last.status, Err: last.err}
		switch {
		case last.err != nil:
			f.Reason = last.err.Error()
		default:
			f.Status, f.Type = it.status, it.typ
			f.Reason = strings.TrimSpace(it.reason + " (gave up after retries)")
		}
		w.fail(f)
	}
}

// rebuild returns the NDJSON of items, which point into old, in a new buffer, and
// moves the items' offsets to it.
func rebuild(old []byte, items []item) []byte {
	n := 0
	for _, it := range items {
		n += it.end - it.off
	}
	buf := make([]byte, 0, n)
	for i := range items {
		it := &items[i]
		off := len(buf)
		buf = append(buf, old[it.off:it.end]...)
		it.off, it.end, it.body = off, len(buf), off+it.body-it.off
	}
	return buf
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether a status is worth sending again: the store is
// overloaded or a proxy in front of it is.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// do sends one bulk request to the current node and sorts its items into indexed,
// to retry and failed (the latter reported at once).
func (w *Writer) do(ctx context.Context, buf []byte, items []item) outcome {
	node := w.nodes[w.node]
	rctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	reqBody := w.newBody(buf)
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, bulkURL(node), reqBody)
	if err != nil {
		reqBody.Close()
		return outcome{retry: items, err: fmt.Errorf("esbulk: %w", err), permanent: true}
	}
	req.ContentLength = int64(len(buf))
	req.GetBody = func() (io.ReadCloser, error) { return w.newBody(buf), nil }
	for k, vs := range w.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	switch {
	case w.cfg.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+w.cfg.APIKey)
	case w.cfg.Username != "" || w.cfg.Password != "":
		req.SetBasicAuth(w.cfg.Username, w.cfg.Password)
	case node.User != nil:
		pw, _ := node.User.Password()
		req.SetBasicAuth(node.User.Username(), pw)
	}
	w.stats.requests.Add(1)
	w.stats.sent.Add(int64(len(items)))
	w.stats.bytes.Add(int64(len(buf)))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// Connection refused, reset, timeout: the node may be down; another may not.
		// A certificate that does not verify will not verify next time either.
		var certErr *tls.CertificateVerificationError
		return outcome{retry: items, err: fmt.Errorf("esbulk: POST %s: %w", redacted(node), err),
			permanent: errors.As(err, &certErr)}
	}
	body, err := w.readResponse(resp.Body)
	resp.Body.Close()
	if err != nil {
		return outcome{retry: items, err: fmt.Errorf("esbulk: POST %s: reading response: %w", redacted(node), err)}
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("esbulk: POST %s: %s: %s", redacted(node), resp.Status, excerpt(body))
		// 429 and 5xx are the store (or its proxy) being unwell: try again. Other
		// statuses (bad request, auth, no such endpoint) will not change by retrying.
		perm := resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500
		return outcome{retry: items, err: err, status: resp.StatusCode, permanent: perm}
	}
	if allIndexed(body, len(items)) {
		// The usual answer, read without decoding the item list.
		w.stats.indexed.Add(int64(len(items)))
		return outcome{}
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return outcome{retry: items, status: resp.StatusCode, permanent: true,
			err: fmt.Errorf("esbulk: POST %s: bad bulk response: %w: %s", redacted(node), err, excerpt(body))}
	}
	if len(r.Items) != len(items) {
		if !r.Errors && len(r.Items) == 0 {
			// Some bulk-compatible stores only say "no errors".
			w.stats.indexed.Add(int64(len(items)))
			return outcome{}
		}
		return outcome{retry: items, status: resp.StatusCode, permanent: true,
			err: fmt.Errorf("esbulk: POST %s: bulk response has %d items for %d documents", redacted(node), len(r.Items), len(items))}
	}
	var out outcome
	indexed := 0
	for i, ri := range r.Items {
		res := ri.result()
		it := items[i]
		switch {
		case res == nil:
			w.fail(Failure{Doc: it.full(buf), Status: resp.StatusCode, Reason: "bulk response item has no index, create, update or delete result"})
		case res.Status/100 == 2:
			indexed++
		case retryable(res.Status):
			it.status, it.typ, it.reason = res.Status, res.Error.Type, res.Error.Reason
			out.retry = append(out.retry, it)
		default:
			w.fail(Failure{Doc: it.full(buf), Status: res.Status, Type: res.Error.Type, Reason: res.Error.Reason})
		}
	}
	w.stats.indexed.Add(int64(indexed))
	return out
}

// requestBody reads a batch buffer as a request body and counts itself among
// the Writer's open bodies until the HTTP client closes it. Reads after Close
// fail, and Close waits for a read in progress, so once every body is closed
// the buffer is no longer read and can be reused.
type requestBody struct {
	mu     sync.Mutex
	b      []byte
	off    int
	closed bool
	open   *atomic.Int64
}

var errBodyClosed = errors.New("esbulk: request body read after close")

func (w *Writer) newBody(buf []byte) *requestBody {
	w.bodies.Add(1)
	return &requestBody{b: buf, open: &w.bodies}
}

func (r *requestBody) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, errBodyClosed
	case r.off >= len(r.b):
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest of the body in one call (the connection's writer
// would otherwise copy it through a small buffer).
func (r *requestBody) WriteTo(dst io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errBodyClosed
	}
	n, err := dst.Write(r.b[r.off:])
	r.off += n
	if err == nil && r.off < len(r.b) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func (r *requestBody) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.open.Add(-1)
	}
	return nil
}

// readResponse reads a response body into the Writer's response buffer, which
// is reused from one request to the next; the result is valid until the next
// call.
func (w *Writer) readResponse(r io.Reader) ([]byte, error) {
	if w.resp.Cap() > maxKeptResponse {
		w.resp = bytes.Buffer{} // do not keep a rare huge response's buffer
	}
	w.resp.Reset()
	_, err := w.resp.ReadFrom(io.LimitReader(r, maxResponseBytes))
	return w.resp.Bytes(), err
}

func bulkURL(node *url.URL) string {
	u := *node
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/_bulk"
	}
	return u.String()
}

// redacted is the node without credentials, for messages.
func redacted(node *url.URL) string {
	u := *node
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

func excerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	const max = 300
	if len(b) > max {
		return strings.ToValidUTF8(string(b[:max]), "") + "..."
	}
	return strings.ToValidUTF8(string(b), "")
}
