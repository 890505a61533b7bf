package esbulk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox/esbulk"
)

func noWait(int) time.Duration { return 0 }

func doc(n int) esbulk.Doc {
	return esbulk.Doc{Index: "blueox-2026.11.24", ID: fmt.Sprintf("id-%d", n), Body: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

// collect records OnFailure calls.
type collect struct {
	mu sync.Mutex
	f  []esbulk.Failure
}

func (c *collect) add(f esbulk.Failure) { c.mu.Lock(); c.f = append(c.f, f); c.mu.Unlock() }
func (c *collect) all() []esbulk.Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.f)
}

func closeOK(t *testing.T, w *esbulk.Writer) {
	t.Helper()
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestWriterFlushesByDocumentCount(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, FlushDocs: 3, FlushInterval: -1})
	for i := range 7 {
		if err := w.Add(context.Background(), doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := es.batchSizes(); !slices.Equal(got, []int{3, 3}) {
		t.Fatalf("before Close: batches %v, want [3 3]", got)
	}
	closeOK(t, w)
	if got := es.batchSizes(); !slices.Equal(got, []int{3, 3, 1}) {
		t.Fatalf("after Close: batches %v, want [3 3 1]", got)
	}
	st := w.Stats()
	if st.Added != 7 || st.Sent != 7 || st.Indexed != 7 || st.Failed != 0 || st.Retried != 0 || st.Requests != 3 {
		t.Fatalf("stats %+v", st)
	}
	var bytes int64
	for _, b := range es.bodies {
		bytes += int64(len(b))
	}
	if st.Bytes != bytes {
		t.Fatalf("stats bytes %d, server received %d", st.Bytes, bytes)
	}
}

func TestWriterFlushesBeforePassingByteLimit(t *testing.T) {
	es := newFakeES(t)
	// Each document is 62 bytes on the wire: two fit in 130, a third would not.
	const limit = 130
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, FlushBytes: limit, FlushInterval: -1})
	for i := range 5 {
		if err := w.Add(context.Background(), doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeOK(t, w)
	if got := es.batchSizes(); !slices.Equal(got, []int{2, 2, 1}) {
		t.Fatalf("batches %v, want [2 2 1]", got)
	}
	for i, b := range es.bodies {
		if len(b) > limit {
			t.Errorf("request %d has %d bytes, limit %d", i, len(b), limit)
		}
	}
}

func TestWriterSendsAnOversizedDocumentAlone(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, FlushBytes: 100, FlushInterval: -1})
	big := esbulk.Doc{ID: "big", Body: []byte(`{"s":"` + strings.Repeat("x", 500) + `"}`)}
	for _, d := range []esbulk.Doc{doc(1), big, doc(2)} {
		if err := w.Add(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	closeOK(t, w)
	if got := es.batchSizes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("batches %v, want [1 1 1]", got)
	}
	if es.batches[1][0].ID != "big" {
		t.Fatalf("second request carried %+v", es.batches[1])
	}
}

func TestWriterFlushesATrickleByTime(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, FlushInterval: 10 * time.Millisecond})
	defer w.Close(context.Background())
	if err := w.Add(context.Background(), doc(1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().Indexed == 0 { // the server has answered and the answer was read
		if time.Now().After(deadline) {
			t.Fatal("a buffered document was not sent without Flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := w.Stats(); st.Indexed != 1 || st.Requests != 1 || es.calls() != 1 {
		t.Fatalf("stats %+v, %d requests", st, es.calls())
	}
}

// Elasticsearch's documented partial failure: "errors": true, and per item a 2xx,
// a 400 (mapping) and a 429 (queue full). Only the 429 is sent again.
func TestWriterRetriesOnlyRetryableItems(t *testing.T) {
	es := newFakeES(t)
	es.itemStatus = func(call int, d bulkAction) int {
		switch {
		case d.ID == "id-1":
			return 400
		case d.ID == "id-2" && call == 0:
			return 429
		}
		return 201
	}
	var fails collect
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, Backoff: noWait, OnFailure: fails.add, FlushInterval: -1})
	for i := range 4 {
		w.Add(context.Background(), doc(i))
	}
	err := w.Flush(context.Background())
	if err == nil {
		t.Fatal("Flush returned nil although a document failed")
	}
	if got := es.batchSizes(); !slices.Equal(got, []int{4, 1}) {
		t.Fatalf("batches %v, want [4 1] (only the 429 resent)", got)
	}
	if es.batches[1][0].ID != "id-2" {
		t.Fatalf("retried %+v, want id-2", es.batches[1])
	}
	f := fails.all()
	if len(f) != 1 {
		t.Fatalf("failures %+v, want one", f)
	}
	if f[0].Doc.ID != "id-1" || f[0].Status != 400 || f[0].Type != "mapper_parsing_exception" ||
		!strings.Contains(f[0].Reason, "failed to parse field") || !strings.Contains(f[0].Reason, "For input string") {
		t.Fatalf("failure %+v", f[0])
	}
	if string(f[0].Doc.Body) != `{"n":1}` {
		t.Fatalf("failure carries body %q", f[0].Doc.Body)
	}
	st := w.Stats()
	want := esbulk.Stats{Added: 4, Sent: 5, Indexed: 3, Retried: 1, Failed: 1, Bytes: st.Bytes, Requests: 2}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if err := w.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "1 of 4") {
		t.Fatalf("Close: %v, want a report of 1 of 4 failed", err)
	}
}

func TestWriterGivesUpOnRetryableItemsAfterMaxRetries(t *testing.T) {
	es := newFakeES(t)
	es.itemStatus = func(int, bulkAction) int { return 429 }
	var fails collect
	var waits []int
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, MaxRetries: 2, OnFailure: fails.add,
		Backoff: func(a int) time.Duration { waits = append(waits, a); return 0 }})
	w.Add(context.Background(), doc(1))
	if err := w.Close(context.Background()); err == nil {
		t.Fatal("Close returned nil")
	}
	if es.calls() != 3 || !slices.Equal(waits, []int{1, 2}) {
		t.Fatalf("%d requests, backoff attempts %v; want 3 and [1 2]", es.calls(), waits)
	}
	f := fails.all()
	if len(f) != 1 || f[0].Status != 429 || f[0].Type != "es_rejected_execution_exception" {
		t.Fatalf("failures %+v", f)
	}
}

func TestWriterReadsEveryActionKey(t *testing.T) {
	for _, key := range []string{"index", "create", "update", "delete"} {
		t.Run(key, func(t *testing.T) {
			es := newFakeES(t)
			es.respond = func(int, []bulkAction) (int, string) {
				return 200, `{"took":1,"errors":true,"items":[{"` + key + `":{"status":200}},{"` + key + `":{"status":404,"error":{"type":"document_missing_exception","reason":"[2]: document missing"}}}]}`
			}
			var fails collect
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, OnFailure: fails.add})
			w.Add(context.Background(), doc(1))
			w.Add(context.Background(), doc(2))
			w.Close(context.Background())
			f := fails.all()
			if st := w.Stats(); st.Indexed != 1 || st.Failed != 1 || len(f) != 1 || f[0].Status != 404 || f[0].Doc.ID != "id-2" {
				t.Fatalf("stats %+v failures %+v", st, f)
			}
		})
	}
}

func TestWriterReadsAnOldStyleStringError(t *testing.T) {
	es := newFakeES(t)
	es.respond = func(int, []bulkAction) (int, string) {
		return 200, `{"took":1,"errors":true,"items":[{"index":{"status":400,"error":"MapperParsingException[failed to parse]"}}]}`
	}
	var fails collect
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, OnFailure: fails.add})
	w.Add(context.Background(), doc(1))
	w.Close(context.Background())
	if f := fails.all(); len(f) != 1 || f[0].Reason != "MapperParsingException[failed to parse]" {
		t.Fatalf("failures %+v", f)
	}
}

// refusedAddr returns an address on which nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestWriterMovesToTheNextNodeWhenARequestFails(t *testing.T) {
	down := newFakeES(t)
	down.respond = func(int, []bulkAction) (int, string) {
		return 503, `{"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}`
	}
	up := newFakeES(t)
	tests := []struct {
		name  string
		first string
	}{
		{"connection refused", refusedAddr(t)},
		{"503 for the whole request", down.URL()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.calls()
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{tc.first, up.URL()}, Backoff: noWait})
			w.Add(context.Background(), doc(1))
			w.Add(context.Background(), doc(2))
			closeOK(t, w)
			if st := w.Stats(); st.Indexed != 2 || st.Requests != 2 || st.Retried != 2 {
				t.Fatalf("stats %+v", st)
			}
			if up.calls() != before+1 {
				t.Fatalf("second node got %d requests, want 1", up.calls()-before)
			}
		})
	}
}

func TestWriterReportsEveryDocumentWhenNoNodeAnswers(t *testing.T) {
	var fails collect
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{refusedAddr(t)}, Backoff: noWait, MaxRetries: 3, OnFailure: fails.add})
	for i := range 3 {
		w.Add(context.Background(), doc(i))
	}
	err := w.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 of 3") {
		t.Fatalf("Close: %v", err)
	}
	f := fails.all()
	if len(f) != 3 {
		t.Fatalf("%d failures, want 3", len(f))
	}
	for _, x := range f {
		if x.Err == nil || x.Status != 0 || !strings.Contains(x.Reason, "refused") {
			t.Fatalf("failure %+v", x)
		}
	}
	if st := w.Stats(); st.Requests != 4 || st.Failed != 3 || st.Indexed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriterDoesNotRetryAWholeRequestRejectedAsBad(t *testing.T) {
	for _, status := range []int{400, 401, 404, 413} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			es := newFakeES(t)
			es.respond = func(int, []bulkAction) (int, string) {
				return status, `{"error":{"type":"x","reason":"no"},"status":` + fmt.Sprint(status) + `}`
			}
			var fails collect
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, Backoff: noWait, OnFailure: fails.add})
			w.Add(context.Background(), doc(1))
			if err := w.Close(context.Background()); err == nil {
				t.Fatal("Close returned nil")
			}
			f := fails.all()
			if es.calls() != 1 || len(f) != 1 || f[0].Status != status {
				t.Fatalf("%d calls, failures %+v", es.calls(), f)
			}
		})
	}
}

func TestWriterRetriesAWholeRequestOn5xxAnd429(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			es := newFakeES(t)
			es.respond = func(call int, _ []bulkAction) (int, string) {
				if call < 2 {
					return status, "busy"
				}
				return 0, ""
			}
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, Backoff: noWait})
			w.Add(context.Background(), doc(1))
			closeOK(t, w)
			if st := w.Stats(); es.calls() != 3 || st.Indexed != 1 || st.Retried != 2 {
				t.Fatalf("%d calls, stats %+v", es.calls(), st)
			}
		})
	}
}

func TestWriterRejectsAResponseThatDoesNotMatchTheRequest(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":         `<html>proxy error</html>`,
		"too few items":    `{"errors":true,"items":[{"index":{"status":201}}]}`,
		"item without key": `{"errors":false,"items":[{"index":{"status":201}},{"other":{"status":201}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			es := newFakeES(t)
			es.respond = func(int, []bulkAction) (int, string) { return 200, body }
			var fails collect
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, OnFailure: fails.add})
			w.Add(context.Background(), doc(1))
			w.Add(context.Background(), doc(2))
			w.Close(context.Background())
			st := w.Stats()
			if st.Indexed+st.Failed != 2 || st.Failed == 0 || int64(len(fails.all())) != st.Failed {
				t.Fatalf("stats %+v failures %+v", st, fails.all())
			}
		})
	}
}

func TestWriterNodeForms(t *testing.T) {
	es := newFakeES(t)
	hostport := strings.TrimPrefix(es.URL(), "http://")
	tests := []struct {
		node, path, query string
	}{
		{hostport, "/_bulk", ""},
		{es.URL() + "/", "/_bulk", ""},
		{es.URL() + "/insert/elasticsearch?_msg_field=type&_stream_fields=host,type", "/insert/elasticsearch/_bulk", "_msg_field=type&_stream_fields=host,type"},
		{es.URL() + "/es/", "/es/_bulk", ""},
	}
	for _, tc := range tests {
		t.Run(tc.node, func(t *testing.T) {
			n := es.calls()
			w := esbulk.NewWriter(esbulk.Config{Nodes: []string{tc.node}})
			w.Add(context.Background(), doc(1))
			closeOK(t, w)
			r := es.requests[n]
			if r.URL.Path != tc.path || r.URL.RawQuery != tc.query || r.Method != http.MethodPost {
				t.Fatalf("%s %s?%s, want POST %s?%s", r.Method, r.URL.Path, r.URL.RawQuery, tc.path, tc.query)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestParseNode(t *testing.T) {
	good := map[string]string{
		"localhost":                         "http://localhost:9200",
		"es:9201":                           "http://es:9201",
		"https://es.example/prefix?x=1":     "https://es.example:9200/prefix?x=1",
		"http://[::1]":                      "http://[::1]:9200",
		"http://u:p@127.0.0.1:9428/insert/": "http://u:p@127.0.0.1:9428/insert/",
	}
	for in, want := range good {
		u, err := esbulk.ParseNode(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseNode(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "es:notaport", "http://", "http://:9200"} {
		if _, err := esbulk.ParseNode(bad); err == nil {
			t.Errorf("ParseNode(%q) accepted", bad)
		}
	}
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{"ftp://x"}})
	if err := w.Add(context.Background(), doc(1)); err == nil {
		t.Fatal("Add on a Writer with a bad node returned nil")
	}
	if err := w.Close(context.Background()); err == nil {
		t.Fatal("Close on a Writer with a bad node returned nil")
	}
}

func TestWriterAuthentication(t *testing.T) {
	es := newFakeES(t)
	withUser := strings.Replace(es.URL(), "http://", "http://url-user:url%20pw@", 1)
	tests := []struct {
		name string
		cfg  esbulk.Config
		want string
	}{
		{"basic from config", esbulk.Config{Nodes: []string{es.URL()}, Username: "elastic", Password: "changeme"}, "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="},
		{"basic from the node URL", esbulk.Config{Nodes: []string{withUser}}, "Basic dXJsLXVzZXI6dXJsIHB3"},
		{"API key", esbulk.Config{Nodes: []string{es.URL()}, APIKey: "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}, "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
		{"none", esbulk.Config{Nodes: []string{es.URL()}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := es.calls()
			w := esbulk.NewWriter(tc.cfg)
			w.Add(context.Background(), doc(1))
			closeOK(t, w)
			if got := es.requests[n].Header.Get("Authorization"); got != tc.want {
				t.Fatalf("Authorization %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriterEncodesDocuments(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}})
	docs := []esbulk.Doc{
		{Index: `we"ird\index`, ID: "id\nwith\u2028breaks", Body: []byte(`{"n": 1}`)},
		{Body: []byte("{\n  \"n\": 2,\r\n  \"s\": \"a\"\n}\n")}, // pretty-printed: compacted onto one line
		{Action: "create", Index: "i", Body: []byte(`{"n":3}`)},
	}
	for _, d := range docs {
		if err := w.Add(context.Background(), d); err != nil {
			t.Fatalf("Add(%q): %v", d.Body, err)
		}
	}
	closeOK(t, w)
	got := es.batches[0]
	if len(got) != 3 || got[0].Index != `we"ird\index` || got[0].ID != "id\nwith\u2028breaks" ||
		got[1].Body["s"] != "a" || got[1].Index != "" || got[2].Action != "create" {
		t.Fatalf("server read %+v", got)
	}
}

func TestWriterRejectsBodiesThatAreNotObjects(t *testing.T) {
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{refusedAddr(t)}})
	defer w.Close(context.Background())
	for _, body := range []string{"", "  ", "[1]", `"s"`, "{\n\"broken\": }", "{\"a\":1}\n{\"b\":2}"} {
		if err := w.Add(context.Background(), esbulk.Doc{Body: []byte(body)}); err == nil {
			t.Errorf("Add(%q) accepted", body)
		}
	}
	if err := w.Add(context.Background(), esbulk.Doc{Action: "delete", Body: []byte(`{}`)}); err == nil {
		t.Error("Add with action delete accepted")
	}
	if st := w.Stats(); st.Added != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriterAfterCloseReturnsErrClosed(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}})
	w.Add(context.Background(), doc(1))
	closeOK(t, w)
	for name, err := range map[string]error{
		"Add":   w.Add(context.Background(), doc(2)),
		"Flush": w.Flush(context.Background()),
		"Close": w.Close(context.Background()),
	} {
		if !errors.Is(err, esbulk.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if st := w.Stats(); st.Added != 1 || st.Indexed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriterCloseGivesUpWhenItsContextEnds(t *testing.T) {
	release := make(chan struct{})
	es := newFakeES(t)
	es.respond = func(int, []bulkAction) (int, string) {
		<-release
		return 0, ""
	}
	defer close(release)
	var fails collect
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, OnFailure: fails.add, RequestTimeout: time.Minute})
	w.Add(context.Background(), doc(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err == nil {
		t.Fatal("Close returned nil although nothing was indexed")
	}
	if f := fails.all(); len(f) != 1 || !errors.Is(f[0].Err, context.DeadlineExceeded) {
		t.Fatalf("failures %+v", f)
	}
}

func TestWriterUnderConcurrentAdds(t *testing.T) {
	es := newFakeES(t)
	es.itemStatus = func(call int, d bulkAction) int {
		if call%3 == 0 && d.Body["n"].(float64) < 50 {
			return 503
		}
		return 201
	}
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}, FlushDocs: 7, Backoff: noWait, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if err := w.Add(context.Background(), doc(g*100+i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	closeOK(t, w)
	if st := w.Stats(); st.Added != 400 || st.Indexed != 400 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	for i := range 400 {
		if n := es.indexed[fmt.Sprintf("id-%d", i)]; n != 1 {
			t.Fatalf("id-%d indexed %d times", i, n)
		}
	}
}

func TestWriterCopiesTheBodySoTheCallerMayReuseIt(t *testing.T) {
	es := newFakeES(t)
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{es.URL()}})
	body := []byte(`{"n":1}`)
	w.Add(context.Background(), esbulk.Doc{ID: "a", Body: body})
	copy(body, `{"n":2}`)
	w.Add(context.Background(), esbulk.Doc{ID: "b", Body: body})
	closeOK(t, w)
	if got := es.batches[0]; got[0].Body["n"] != 1.0 || got[1].Body["n"] != 2.0 {
		t.Fatalf("server read %+v", got)
	}
}

func TestWriterOverHTTPS(t *testing.T) {
	var got []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		fmt.Fprint(w, `{"took":1,"errors":false,"items":[{"index":{"status":201}}]}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the second case fails
	srv.StartTLS()
	defer srv.Close()
	w := esbulk.NewWriter(esbulk.Config{Nodes: []string{srv.URL + "/es"}, Client: srv.Client()})
	w.Add(context.Background(), doc(1))
	closeOK(t, w)
	if !slices.Equal(got, []string{"/es/_bulk"}) || w.Stats().Indexed != 1 {
		t.Fatalf("requests %v, stats %+v", got, w.Stats())
	}

	t.Run("an unknown certificate is a failure, not a retry loop", func(t *testing.T) {
		var fails collect
		w := esbulk.NewWriter(esbulk.Config{Nodes: []string{srv.URL}, OnFailure: fails.add, Backoff: noWait})
		w.Add(context.Background(), doc(1))
		if err := w.Close(context.Background()); err == nil {
			t.Fatal("Close returned nil")
		}
		if f := fails.all(); len(f) != 1 || !strings.Contains(f[0].Reason, "certificate") || w.Stats().Requests != 1 {
			t.Fatalf("failures %+v, stats %+v", f, w.Stats())
		}
	})
}

// lateTransport answers every request at once with all documents indexed and
// keeps the request bodies unread and open, as a transport still sending them
// would.
type lateTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (lt *lateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	lt.mu.Lock()
	lt.reqs = append(lt.reqs, r)
	lt.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"errors":false}`)),
		Header: http.Header{}, Request: r}, nil
}

// The Writer reuses a sent batch's buffer only once the HTTP client has closed
// the request body: until then the client may still be reading it.
func TestWriterKeepsABufferTheClientStillReads(t *testing.T) {
	lt := &lateTransport{}
	w := esbulk.NewWriter(esbulk.Config{Client: &http.Client{Transport: lt}, Nodes: []string{"127.0.0.1:1"},
		FlushDocs: 2, FlushInterval: -1})
	for i := range 6 {
		if err := w.Add(context.Background(), doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeOK(t, w)
	if len(lt.reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(lt.reqs))
	}
	for i, r := range lt.reqs {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{fmt.Sprintf(`"id-%d"`, 2*i), fmt.Sprintf(`"id-%d"`, 2*i+1)} {
			if !strings.Contains(string(b), id) {
				t.Errorf("request %d body lacks %s:\n%s", i, id, b)
			}
		}
	}
}
