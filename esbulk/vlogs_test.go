package esbulk_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/blueox/ox/esbulk"
	"github.com/blueox/ox/esbulk/esbulktest"
)

// The Writer against a real store that speaks the bulk API: every document
// arrives once, with its fields, batched by count.
func TestWriterAgainstVictoriaLogs(t *testing.T) {
	vl := esbulktest.StartVictoriaLogs(t)
	w := esbulk.NewWriter(esbulk.Config{
		Nodes:     []string{vl.BulkNode("_time_field", "@timestamp", "_msg_field", "msg")},
		FlushDocs: 40,
	})
	const n = 250
	for i := range n {
		body := fmt.Sprintf(`{"@timestamp":"2026-11-24T13:00:%02d.5Z","msg":"event %d","n":%d,"nested":{"k":"v%d"}}`, i%60, i, i, i)
		if err := w.Add(context.Background(), esbulk.Doc{Index: "test", ID: fmt.Sprint(i), Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Indexed != n || st.Requests != 7 {
		t.Fatalf("stats %+v", st)
	}
	rows := vl.Query(t, "*")
	if len(rows) != n {
		t.Fatalf("store holds %d rows, want %d", len(rows), n)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		var i int
		fmt.Sscan(r["n"], &i)
		if seen[r["n"]] || r["_msg"] != fmt.Sprint("event ", i) || r["nested.k"] != fmt.Sprint("v", i) ||
			r["_time"] != fmt.Sprintf("2026-11-24T13:00:%02d.5Z", i%60) {
			t.Fatalf("row %v", r)
		}
		seen[r["n"]] = true
	}
}
