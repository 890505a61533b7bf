package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk/esbulktest"
	"github.com/blueox/ox/internal/testenv"
)

// collectorStandIn is the part of oxd that oxstash talks to in live mode: a real
// ZeroMQ REP socket answering SOCK_STREAM with the port of a real PUB socket.
type collectorStandIn struct {
	controlAddr string
	pub         zmq4.Socket
}

func startCollectorStandIn(t *testing.T) *collectorStandIn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pub := zmq4.NewPub(ctx)
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	rep := zmq4.NewRep(ctx)
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); rep.Close(); pub.Close() })
	streamPort := pub.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			msg, err := rep.Recv()
			if err != nil {
				return
			}
			reply := map[string]any{"error": "Unknown Command"}
			if v, err := ox.Decode(msg.Frames[0]); err == nil {
				if m, ok := v.(map[string]any); ok && m["cmd"] == "SOCK_STREAM" {
					reply = map[string]any{"port": streamPort}
				}
			}
			b, _ := ox.AppendValue(nil, reply)
			if rep.Send(zmq4.NewMsg(b)) != nil {
				return
			}
		}
	}()
	return &collectorStandIn{controlAddr: rep.Addr().String(), pub: pub}
}

func (c *collectorStandIn) publish(t *testing.T, typ string, data []byte) {
	t.Helper()
	if err := c.pub.Send(zmq4.NewMsgFrom([]byte(typ), data)); err != nil {
		t.Fatal(err)
	}
}

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
	oxd := startCollectorStandIn(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		stderr string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var stdout, stderr testenv.SyncBuffer
		err := run(ctx, []string{"-H", oxd.controlAddr, "-n", "request*", "--flush-interval", "20ms",
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
		oxd.publish(t, "request.marker", data)
	}
	waitRows(t, vl, `type:="request.marker"`, 1, marker)

	var want []testenv.WireFrame
	for _, wf := range testenv.WireFrames(t) {
		typ := wf.EventJSON["type"].(string)
		oxd.publish(t, typ, wf.Data)
		if strings.HasPrefix(typ, "request") {
			want = append(want, wf)
		}
	}
	query := `run:="live" -type:="request.marker"`
	waitRows(t, vl, query, len(want), nil)
	cancel()
	r := <-done
	if r.err != nil || !strings.Contains(r.stderr, "0 failed") || !strings.Contains(r.stderr, "(interrupted)") {
		t.Fatalf("err %v, summary %q", r.err, r.stderr)
	}
	checkRows(t, vl.Query(t, query), want)
}
