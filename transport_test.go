package ox

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// clientEvent makes one request through Transport inside a "request" event and
// returns the recorded .httpclient body.
func clientEvent(t *testing.T, r *recorder, do func(ctx context.Context, c *http.Client)) map[string]any {
	t.Helper()
	ctx, ev := Start(context.Background(), "request")
	do(ctx, &http.Client{Transport: Transport(nil)})
	ev.Done()
	got := r.all()
	if len(got) != 2 || got[0].Type != "request.httpclient" || got[0].ID != got[1].ID {
		t.Fatalf("recorded %v, want request.httpclient sharing the request's id, then request", r.types())
	}
	return got[0].Body
}

func TestTransportRecordsAClientCall(t *testing.T) {
	r := record(t)
	srv := testServer(t)
	b := clientEvent(t, r, func(ctx context.Context, c *http.Client) {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api?q=1", strings.NewReader("hello"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	})
	want := map[string]any{
		"request":  map[string]any{"uri": srv.URL + "/api?q=1", "method": "POST", "size": int64(5)},
		"response": map[string]any{"code": 202, "size": int64(1000)},
	}
	if !mapsEqual(b, want) {
		t.Errorf("body = %v, want %v", b, want)
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if m, ok := v.(map[string]any); ok {
			am, ok := a[k].(map[string]any)
			if !ok || !mapsEqual(am, m) {
				return false
			}
			continue
		}
		if a[k] != v {
			return false
		}
	}
	return true
}

func TestTransportCountsAPartiallyReadBody(t *testing.T) {
	r := record(t)
	srv := testServer(t)
	b := clientEvent(t, r, func(ctx context.Context, c *http.Client) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	resp := b["response"].(map[string]any)
	if resp["size"] != int64(10) || resp["code"] != 202 {
		t.Errorf("response = %v, want size 10 (what was read), code 202", resp)
	}
	if req := b["request"].(map[string]any); req["size"] != 0 {
		t.Errorf("request.size = %v, want 0 for a GET", req["size"])
	}
}

func TestTransportCountsARequestBodyOfUnknownLength(t *testing.T) {
	r := record(t)
	srv := testServer(t)
	b := clientEvent(t, r, func(ctx context.Context, c *http.Client) {
		body := io.MultiReader(strings.NewReader("abc"), strings.NewReader("defg")) // no length
		req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, body)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	})
	if got := b["request"].(map[string]any)["size"]; got != int64(7) {
		t.Errorf("request.size = %#v, want 7", got)
	}
}

func TestTransportRecordsAFailure(t *testing.T) {
	r := record(t)
	b := clientEvent(t, r, func(ctx context.Context, c *http.Client) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+localAddr(t)+"/", nil) // nobody listens
		if _, err := c.Do(req); err == nil {
			t.Fatal("request to a closed port succeeded")
		}
	})
	if e, _ := b["error"].(string); !strings.Contains(e, "refused") {
		t.Errorf("error = %q", e)
	}
}

func TestTransportHidesPasswords(t *testing.T) {
	r := record(t)
	srv := testServer(t)
	b := clientEvent(t, r, func(ctx context.Context, c *http.Client) {
		u := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	if uri := b["request"].(map[string]any)["uri"].(string); strings.Contains(uri, "hunter2") {
		t.Errorf("uri %q shows the password", uri)
	}
}

type recordingTripper struct{ got *http.Request }

func (rt *recordingTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.got = req
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestTransportWithoutAnEventPassesThrough(t *testing.T) {
	r := record(t)
	rt := &recordingTripper{}
	req, _ := http.NewRequest("GET", "http://example.com/", nil)
	resp, err := Transport(rt).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if rt.got != req || resp.Body != http.NoBody {
		t.Error("the request or response was changed without an event in the context")
	}
	if len(r.all()) != 0 {
		t.Errorf("recorded %v", r.types())
	}
}
