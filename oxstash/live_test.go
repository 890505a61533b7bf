package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk/esbulktest"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// waitRows polls the store until the query returns at least n rows.
func waitRows(t *testing.T, vl *esbulktest.VictoriaLogs, query string, n int, each func()) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if each != nil {
			each()
		}
		rows := vl.Query(t, query)
		if len(rows) >= n {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("store has %d rows for %s after 30s, want %d", len(rows), query, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Live mode: events published on the collector's stream arrive in the store
// (filtered by -n), a trickle is sent without waiting for a full batch, and a
// signal ends the run cleanly.
func TestShipsTheLiveStreamIntoVictoriaLogs(t *testing.T) {
	vl := esbulktest.StartVictoriaLogs(t)
	oxd := oxdtest.StartStandIn(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		stderr string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var stdout, stderr testenv.SyncBuffer
		err := run(ctx, []string{"-H", oxd.Control, "-n", "request*", "--flush-interval", "20ms",
			"-e", vl.BulkNode("_time_field", "@timestamp", "extra_fields", "run=live"),
			"-d", t.TempDir() + "/dead"}, strings.NewReader(""), &stdout, &stderr)
		done <- result{stderr.String(), err}
	}()

	// A subscriber misses what is published before it has connected: publish a
	// marker event until one arrives, then the events under test.
	n := 0
	marker := func() {
		n++
		data, err := ox.AppendRecord(nil, ox.Record{ID: "marker", Type: "request.marker", Host: "test",
			Start: time.Unix(int64(n), 0), End: time.Unix(int64(n), 0)})
		if err != nil {
			t.Fatal(err)
		}
		oxd.Publish(t, "request.marker", data)
	}
	waitRows(t, vl, `type:="request.marker"`, 1, marker)

	var want []testenv.WireFrame
	for _, wf := range testenv.WireFrames(t) {
		typ := wf.EventJSON["type"].(string)
		oxd.Publish(t, typ, wf.Data)
		if strings.HasPrefix(typ, "request") {
			want = append(want, wf)
		}
	}
	query := `run:="live" -type:="request.marker"`
	waitRows(t, vl, query, len(want), nil)
	cancel()
	r := <-done
	if r.err != nil || !strings.Contains(r.stderr, "0 not delivered, 0 rejected by the node") || !strings.Contains(r.stderr, "(interrupted)") {
		t.Fatalf("err %v, summary %q", r.err, r.stderr)
	}
	checkRows(t, vl.Query(t, query), want)
}
