package ox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// redactedHeaders carry credentials: Middleware never records their values.
var redactedHeaders = [...]string{"Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "X-Api-Key"}

// Redacted is what Middleware records in place of a redacted header's value.
const Redacted = "[redacted]"

// MiddlewareOptions configures Middleware. The zero value (or nil) means the
// defaults.
type MiddlewareOptions struct {
	// Name is the event each request opens. Default "request"; the Flask
	// integration used "<app>.request".
	Name string
	// Version and Revision, when set, are recorded with every request (the
	// application's release and source revision).
	Version, Revision string
	// RedactHeaders are more headers to redact, on top of those always redacted:
	// Authorization, Cookie, Set-Cookie, Proxy-Authorization and X-Api-Key.
	RedactHeaders []string
	// TrustForwardedFor takes client_ip from the X-Forwarded-For header, as the
	// last address in it (the one the proxy in front of this server saw). Set it
	// only when a proxy you run sets that header; otherwise clients can claim any
	// address. Default: client_ip is the connection's remote address.
	TrustForwardedFor bool
	// Options are passed to Start for each request, e.g. Sample(".", 0.1).
	Options []Option
}

// Middleware wraps next so that each request is one event, "request" by default,
// recording method, path, url, headers (credentials redacted), client_ip,
// response_status_code, response_size (bytes of body written), duration (float
// seconds), pattern (the ServeMux pattern that matched, when any) and version /
// revision when configured.
//
// The request given to next carries the event in its context, so ox.Set(ctx, ...)
// and sub-events (ox.Start(r.Context(), ".db")) work anywhere below. A panic in
// next is recorded as "exception" with its stack and status 500, and then
// re-raised so that net/http handles it as usual. The wrapped ResponseWriter
// keeps http.Flusher, http.Hijacker and io.ReaderFrom working, and Unwrap lets
// http.ResponseController reach the original.
func Middleware(next http.Handler, opts *MiddlewareOptions) http.Handler {
	var o MiddlewareOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "request"
	}
	m := &middleware{next: next, opts: o, redact: map[string]bool{}}
	for _, h := range append(redactedHeaders[:], o.RedactHeaders...) {
		m.redact[http.CanonicalHeaderKey(h)] = true
	}
	return m
}

type middleware struct {
	next   http.Handler
	opts   MiddlewareOptions
	redact map[string]bool
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, ev := Start(r.Context(), m.opts.Name, m.opts.Options...)
	if !ev.Enabled() { // unconfigured or sampled out: stay out of the way
		if ev != nil {
			defer ev.Done()
			r = r.WithContext(ctx) // sub-events must see the disabled parent
		}
		m.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	ev.Set("method", r.Method)
	ev.Set("path", r.URL.Path)
	ev.Set("url", requestURL(r))
	ev.Set("client_ip", m.clientIP(r))
	ev.Set("headers", m.headers(r.Header))
	if m.opts.Version != "" {
		ev.Set("version", m.opts.Version)
	}
	if m.opts.Revision != "" {
		ev.Set("revision", m.opts.Revision)
	}
	rw := &responseWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			ev.Set("exception", fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack()))
			rw.status = http.StatusInternalServerError
			m.finish(ev, rw, r, start)
			panic(p)
		}
		m.finish(ev, rw, r, start)
	}()
	r = r.WithContext(ctx)
	m.next.ServeHTTP(rw, r)
}

func (m *middleware) finish(ev *Event, rw *responseWriter, r *http.Request, start time.Time) {
	status := rw.status
	if status == 0 && !rw.hijacked {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	if status != 0 {
		ev.Set("response_status_code", status)
	}
	if rw.hijacked {
		ev.Set("hijacked", true)
	}
	ev.Set("response_size", rw.size)
	ev.Set("duration", time.Since(start).Seconds())
	if r.Pattern != "" {
		ev.Set("pattern", r.Pattern)
	}
	ev.Done()
}

func requestURL(r *http.Request) string {
	if r.URL.IsAbs() {
		return r.URL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func (m *middleware) clientIP(r *http.Request) string {
	if m.opts.TrustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := strings.TrimSpace(last); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (m *middleware) headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if m.redact[http.CanonicalHeaderKey(k)] {
			out[k] = Redacted
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// responseWriter counts what the handler writes and remembers the status.
type responseWriter struct {
	http.ResponseWriter
	status   int
	size     int64
	hijacked bool
}

// Unwrap lets http.ResponseController reach the original writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code // 1xx informational headers may come first
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

// Flush sends buffered data to the client (http.Flusher), when the original
// writer can.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (http.Hijacker), when the original writer
// can; otherwise it returns http.ErrNotSupported.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// ReadFrom keeps io.Copy's sendfile path when the original writer has one.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, r)
	}
	w.size += n
	return n, err
}

// writerOnly hides everything but Write, so io.Copy does not loop back to ReadFrom.
type writerOnly struct{ io.Writer }
