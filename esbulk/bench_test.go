package esbulk_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/blueox/ox/esbulk"
)

// storeTransport answers every bulk request in process the way a store does
// when all is well: "errors": false and one result per document.
type storeTransport struct{ item string }

// lineCounter counts the lines written to it.
type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte("\n")))
	return len(p), nil
}

func (st storeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var lines lineCounter
	_, err := io.Copy(&lines, r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	items := make([]string, lines/2)
	for i := range items {
		items[i] = st.item
	}
	reply := `{"errors":false,"items":[` + strings.Join(items, ",") + `]}`
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(reply)),
		Header: http.Header{}, Request: r}, nil
}

// BenchmarkWriter measures the Writer's own cost per document: Add with the
// default batch of 500, a 600-byte body, and a store answering in process.
func BenchmarkWriter(b *testing.B) {
	body := []byte(`{"@timestamp":"2026-11-24T12:00:00.000Z","type":"request","host":"web-1","pid":1001,"id":"` +
		strings.Repeat("a", 32) + `","body":{"path":"/api/v1/items","user_agent":"` + strings.Repeat("M", 400) + `"}}`)
	for _, s := range []struct{ name, item string }{
		{"victorialogs", `{"create":{"status":201}}`},
		{"elasticsearch", `{"index":{"_index":"blueox-2026.11.24","_id":"4f1c2a","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":7,"_primary_term":1,"status":201}}`},
	} {
		b.Run(s.name, func(b *testing.B) {
			w := esbulk.NewWriter(esbulk.Config{
				Client:        &http.Client{Transport: storeTransport{s.item}},
				Nodes:         []string{"127.0.0.1:9200"},
				FlushInterval: -1,
			})
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := w.Add(ctx, esbulk.Doc{Index: "blueox-2026.11.24", ID: strconv.Itoa(i), Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if st := w.Stats(); st.Indexed != int64(i) {
				b.Fatalf("stats %+v after %d documents", st, i)
			}
		})
	}
}
