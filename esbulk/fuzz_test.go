package esbulk_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/blueox/ox/esbulk"
)

// replyTransport answers every request with a fixed status and body, in process.
type replyTransport struct {
	status int
	body   []byte
}

func (rt replyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return &http.Response{StatusCode: rt.status, Body: io.NopCloser(bytes.NewReader(rt.body)), Header: http.Header{}, Request: r}, nil
}

// FuzzBulkResponse feeds arbitrary bulk responses to a Writer: it must not
// panic or hang, and every document must end up indexed or reported failed.
func FuzzBulkResponse(f *testing.F) {
	f.Add(200, []byte(`{"took":1,"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}},{"index":{"status":201}}]}`))
	f.Add(200, []byte(`{"took":1,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"t","reason":"r","caused_by":{"type":"c","reason":"d"}}}},{"update":{"status":429,"error":"queue full"}}]}`))
	f.Add(200, []byte(`{"errors":true,"items":[{"delete":{"status":"x"}}]}`))
	f.Add(503, []byte(`busy`))
	f.Add(200, []byte(`{}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		var failures int64
		w := esbulk.NewWriter(esbulk.Config{
			Client:        &http.Client{Transport: replyTransport{status, body}},
			Nodes:         []string{"127.0.0.1:1"},
			MaxRetries:    2,
			Backoff:       func(int) time.Duration { return 0 },
			FlushInterval: -1,
			OnFailure:     func(esbulk.Failure) { failures++ },
		})
		for i := range 3 {
			if err := w.Add(context.Background(), doc(i)); err != nil {
				t.Fatal(err)
			}
		}
		w.Close(context.Background())
		st := w.Stats()
		if st.Indexed+st.Failed != 3 || st.Failed != failures {
			t.Fatalf("stats %+v, %d failures reported", st, failures)
		}
	})
}
