package ox

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMiddlewareRecordsTheRequest(t *testing.T) {
	r := record(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, req *http.Request) {
		Set(req.Context(), "user", req.PathValue("id"))
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "hello")
		io.WriteString(w, ", world")
	})
	h := Middleware(mux, &MiddlewareOptions{Name: "myapp.request", Version: "1.2.3", Revision: "abc123", RedactHeaders: []string{"x-session"}})
	req := httptest.NewRequest("GET", "http://example.com/users/7?x=1", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	req.Header.Set("User-Agent", "test")
	req.Header.Add("Accept", "a")
	req.Header.Add("Accept", "b")
	for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "X-Session"} {
		req.Header.Set(k, "secret")
	}
	h.ServeHTTP(httptest.NewRecorder(), req)

	got := r.all()
	if len(got) != 1 || got[0].Type != "myapp.request" {
		t.Fatalf("recorded %+v", got)
	}
	b := got[0].Body
	want := map[string]any{
		"method": "GET", "path": "/users/7", "url": "http://example.com/users/7?x=1",
		"client_ip": "192.0.2.1", "response_status_code": http.StatusTeapot, "response_size": int64(12),
		"version": "1.2.3", "revision": "abc123", "pattern": "GET /users/{id}", "user": "7",
	}
	for k, w := range want {
		if !reflect.DeepEqual(b[k], w) {
			t.Errorf("%s = %#v, want %#v", k, b[k], w)
		}
	}
	if d, ok := b["duration"].(float64); !ok || d < 0 {
		t.Errorf("duration = %#v, want float seconds", b["duration"])
	}
	headers := b["headers"].(map[string]string)
	if headers["User-Agent"] != "test" || headers["Accept"] != "a, b" {
		t.Errorf("headers = %v", headers)
	}
	for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "X-Session"} {
		if headers[k] != Redacted {
			t.Errorf("header %s recorded as %q, want it redacted", k, headers[k])
		}
	}
}

func TestMiddlewareClientIP(t *testing.T) {
	for _, tt := range []struct {
		name  string
		trust bool
		xff   []string
		want  string
	}{
		{"connection address by default", false, nil, "192.0.2.1"},
		{"forwarded-for ignored unless trusted", false, []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted proxy: the address it saw", true, []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted proxy: last of several headers", true, []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},
		{"trusted proxy without the header", true, nil, "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t)
			h := Middleware(http.NotFoundHandler(), &MiddlewareOptions{TrustForwardedFor: tt.trust})
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = "192.0.2.1:5555"
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got := r.all()[0].Body["client_ip"]; got != tt.want {
				t.Errorf("client_ip = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestMiddlewareRecordsAPanicAndReraisesIt(t *testing.T) {
	r := record(t)
	boom := errors.New("boom")
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, db := Start(req.Context(), ".db")
		defer db.Done()
		panic(boom)
	}), nil)
	func() {
		defer func() {
			if p := recover(); p != boom {
				t.Errorf("recovered %v, want the handler's panic value re-raised", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	got := r.all()
	if len(got) != 2 || got[1].Type != "request" {
		t.Fatalf("recorded %v", r.types())
	}
	b := got[1].Body
	if b["response_status_code"] != 500 {
		t.Errorf("status %v, want 500", b["response_status_code"])
	}
	exc, _ := b["exception"].(string)
	if !strings.Contains(exc, "panic: boom") || !strings.Contains(exc, "middleware_test.go") {
		t.Errorf("exception = %q, want the panic and its stack", exc)
	}
}

// Through a real server, net/http still handles the re-raised panic: the client
// sees the connection dropped, the server keeps serving.
func TestMiddlewarePanicThroughAServer(t *testing.T) {
	r := record(t)
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/panic" {
			panic(http.ErrAbortHandler) // net/http's quiet panic
		}
		io.WriteString(w, "ok")
	}), nil)
	srv := httptest.NewServer(h)
	if _, err := http.Post(srv.URL+"/panic", "text/plain", nil); err == nil {
		t.Error("a panicking handler answered")
	}
	resp, err := http.Get(srv.URL + "/fine")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the handlers, so every event is recorded
	var codes []any
	for _, e := range r.all() {
		codes = append(codes, e.Body["response_status_code"])
	}
	if !reflect.DeepEqual(codes, []any{500, 200}) {
		t.Errorf("recorded statuses %v, want [500 200]", codes)
	}
}

func TestMiddlewareStreamingResponseFlushes(t *testing.T) {
	r := record(t)
	firstRead := make(chan struct{})
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select { // the client must see the first chunk while the handler runs
		case <-firstRead:
		case <-time.After(10 * time.Second):
			t.Error("client never got the flushed chunk")
		}
		io.WriteString(w, "second\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline: %v", err)
		}
	}), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != "first\n" {
		t.Fatalf("first chunk %q", line)
	}
	close(firstRead)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
	waitFor(t, "the request event", func() bool { return len(r.all()) == 1 })
	if b := r.all()[0].Body; b["response_size"] != int64(13) || b["response_status_code"] != 200 {
		t.Errorf("size %v status %v", b["response_size"], b["response_status_code"])
	}
}

func TestMiddlewareHijack(t *testing.T) {
	r := record(t)
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		bw.Flush()
	}), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Errorf("body %q", body)
	}
	waitFor(t, "the request event", func() bool { return len(r.all()) == 1 })
	if b := r.all()[0].Body; b["hijacked"] != true {
		t.Errorf("body %v, want hijacked", b)
	}
}

func TestMiddlewareResponseControllerHijack(t *testing.T) {
	r := record(t)
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("ResponseController.Hijack: %v", err)
			return
		}
		conn.Write([]byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
		conn.Close()
	}), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("status %d", resp.StatusCode)
	}
	// The server does not wait for handlers of hijacked connections: wait for the
	// event here, or it lands in the next test.
	waitFor(t, "the request event", func() bool { return len(r.all()) == 1 })
}

func TestMiddlewareWithoutConfigurationPassesThrough(t *testing.T) {
	SetRecorder(nil)
	var sawEvent bool
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sawEvent = FromContext(req.Context()) != nil
		_, ok := w.(*responseWriter)
		if ok {
			t.Error("the writer was wrapped while nothing is recorded")
		}
		io.WriteString(w, "ok")
	}), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if sawEvent || rec.Body.String() != "ok" {
		t.Errorf("event %v body %q", sawEvent, rec.Body.String())
	}
}

func TestMiddlewareSampledOutKeepsSubEventsQuiet(t *testing.T) {
	r := record(t)
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, db := Start(req.Context(), ".db")
		db.Done()
	}), &MiddlewareOptions{Options: []Option{Sample(".", 0)}})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := r.types(); len(got) != 0 {
		t.Errorf("recorded %v from a sampled-out request", got)
	}
}

// The goroutine pattern: work that continues in other goroutines takes the
// context along. Goroutines the handler waits for record sub-events of the
// request; work that outlives the request uses context.WithoutCancel so it is
// not cancelled with the request, and its events still share the request's id.
func TestGoroutinesCarryTheContext(t *testing.T) {
	r := record(t)
	var background sync.WaitGroup
	requestOver := make(chan struct{}) // closed once the client has the response
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, ev := Start(ctx, ".fetch")
				defer ev.Done()
				Add(ctx, "items", i)
				Set(ctx, "shard", i)
			}()
		}
		wg.Wait()
		detached := context.WithoutCancel(ctx)
		background.Add(1)
		go func() {
			defer background.Done()
			<-requestOver // outlives the request, however slow the machine
			_, ev := Start(detached, ".email")
			ev.Set("to", "user@example.com")
			ev.Done()
		}()
		io.WriteString(w, "ok")
	}), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(requestOver)
	background.Wait()
	got := r.all()
	types := r.types()
	want := []string{"request.fetch", "request.fetch", "request.fetch", "request", "request.email"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("recorded %v, want %v", types, want)
	}
	for _, e := range got {
		if e.ID != got[3].ID {
			t.Errorf("%s has id %s, want the request's %s", e.Type, e.ID, got[3].ID)
		}
	}
}
