package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/fwdlink"
	"github.com/blueox/ox/internal/testenv"
)

// linkAddr is the bound --link address of a test oxd.
func (x *testOxd) linkAddr() string { return x.d.linkLn.Addr().String() }

// logTree is tree without the receiver's dotfile state.
func logTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := tree(t, dir)
	for k := range m {
		if strings.HasPrefix(filepath.Base(k), ".") {
			delete(m, k)
		}
	}
	return m
}

func waitLogTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !equalTrees(logTree(t, dir), want) {
		if time.Now().After(deadline) {
			t.Fatalf("files under %s: got %v, want %v", dir, sizes(logTree(t, dir)), sizes(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// central starts a receiving oxd with --link on a free port.
func startCentral(t *testing.T, mod func(*options, *daemon)) *testOxd {
	t.Helper()
	return startOxd(t, func(o *options, d *daemon) {
		o.link = "127.0.0.1:0"
		if mod != nil {
			mod(o, d)
		}
	})
}

// startEdge starts a spooling, forwarding oxd without files.
func startEdge(t *testing.T, targets []string, mod func(*options, *daemon)) *testOxd {
	t.Helper()
	spool := filepath.Join(t.TempDir(), "spool")
	return startOxd(t, func(o *options, d *daemon) {
		o.logPath = ""
		o.spoolPath = spool
		o.targets = targets
		o.forward = strings.Join(targets, ",")
		o.spoolMaxMB = 64
		o.failover = 30 * time.Second
		if mod != nil {
			mod(o, d)
		}
	})
}

func TestSpooledForwardChainDeliversTheOriginalFiles(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "compressed"}[compress], func(t *testing.T) {
			clock := &fakeClock{t: fixtureTime}
			central := startCentral(t, func(o *options, d *daemon) { d.now = clock.Now })
			edge := startEdge(t, []string{central.linkAddr()}, func(o *options, d *daemon) { o.compress = compress })
			push := pusher(t, edge.collect)
			for _, f := range testenv.WireFrames(t) {
				send(t, push, f.Meta, f.Data)
			}
			waitLogTree(t, central.logPath, fixtureTree(t, "logs-daily"))
			deadline := time.Now().Add(10 * time.Second)
			var fwd map[string]any
			for {
				fwd = edge.status(t)["forward"].(map[string]any)
				if asInt(fwd["acked"]) == 8 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, k := range []string{"target", "targets", "spool_bytes", "oldest_unacked_age", "ack_rate", "compression_saving", "unacked", "connected"} {
				if _, ok := fwd[k]; !ok {
					t.Errorf("STATUS forward has no %q: %v", k, fwd)
				}
			}
			if fwd["mode"] != "spool" || fwd["target"] != central.linkAddr() || asInt(fwd["unacked"]) != 0 || asInt(fwd["acked"]) != 8 {
				t.Fatalf("forward status %v", fwd)
			}
			if saving, _ := fwd["compression_saving"].(float64); compress != (saving > 0) {
				t.Fatalf("compression saving %v with compress=%v", saving, compress)
			}
			link := central.status(t)["link"].(map[string]any)
			if asInt(link["events"]) != 8 || asInt(link["duplicates"]) != 0 || asInt(link["forwarders"]) != 1 {
				t.Fatalf("link status %v", link)
			}
		})
	}
}

// The collection port of an oxd with --link still takes plain PUSH, and the link
// port refuses what is not the link protocol without disturbing collection.
func TestLinkPortAndCollectionPortSideBySide(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	central := startCentral(t, func(o *options, d *daemon) { d.now = clock.Now })
	plain := startOxd(t, func(o *options, d *daemon) { o.forward = central.collect; o.logPath = "" })
	push := pusher(t, plain.collect)
	for _, f := range testenv.WireFrames(t) {
		send(t, push, f.Meta, f.Data)
	}
	nc, err := netDial(central.linkAddr())
	if err == nil {
		nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		nc.Close()
	}
	waitLogTree(t, central.logPath, fixtureTree(t, "logs-daily"))
}

func TestLinkEventsAreCheckedLikeCollectedOnes(t *testing.T) {
	central := startCentral(t, nil)
	d := central.d
	meta, data := testEvent(t, "ok", 1)
	badMeta, _ := testEvent(t, "ok", 2)
	badMeta[0] = 9 // version
	evil, _ := ox.AppendMeta(nil, ox.Meta{Host: "h", Type: "../escape"})
	err := d.deliverLink(context.Background(), "f", []fwdlink.Event{
		{Meta: meta, Data: data},
		{Meta: badMeta, Data: data},
		{Meta: evil, Data: data},
		{Meta: meta, Data: []byte{0xc1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := central.status(t)
	dropped := st["dropped"].(map[string]any)
	if asInt(st["received"]) != 1 || asInt(dropped["meta_version"]) != 1 || asInt(dropped["type_name"]) != 1 || asInt(dropped["not_msgpack"]) != 1 {
		t.Fatalf("status %v", st)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(central.logPath), "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a type name from the link left the log path")
	}
}

// FORWARD re-points an edge while its stream is flowing to the old target: nothing
// is lost, and every event sent once the switch took effect goes to the new target.
// The test waits for states, not for time: A's acknowledgements are held back at a
// relay so that events are provably in flight when FORWARD arrives, and the second
// half of the stream is sent once STATUS names B (under load the edge may otherwise
// forward everything to A before it looks at the command).
func TestForwardCommandRepointsMidStreamLosingNothing(t *testing.T) {
	a := startCentral(t, nil)
	b := startCentral(t, nil)
	gate := startAckGate(t, a.linkAddr())
	edge := startEdge(t, []string{gate.addr()}, nil)
	push := pusher(t, edge.collect)
	const n = 6000
	frames := make([][2][]byte, n)
	for i := range frames {
		frames[i][0], frames[i][1] = testEvent(t, "request", i)
	}
	forward := func(st map[string]any) map[string]any {
		fwd, _ := st["forward"].(map[string]any)
		return fwd
	}
	waitStatus(t, edge.control, func(st map[string]any) bool { return forward(st)["connected"] == true })
	gate.hold.Lock()
	held := true
	defer func() {
		if held {
			gate.hold.Unlock()
		}
	}()
	for i := range n / 2 {
		send(t, push, frames[i][0], frames[i][1])
	}
	st := waitStatus(t, edge.control, func(st map[string]any) bool { return asInt(forward(st)["sent"]) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ox.ControlRequest(ctx, edge.control, map[string]any{"cmd": "FORWARD", "targets": b.linkAddr()})
	if err != nil || reply["ok"] != true {
		t.Fatalf("FORWARD: %v %v", reply, err)
	}
	inFlight := asInt(forward(st)["sent"]) - asInt(forward(st)["acked"])
	if inFlight <= 0 {
		t.Fatalf("nothing in flight to A when FORWARD was sent: %v", forward(st))
	}
	gate.hold.Unlock() // A's acknowledgements end the old session
	held = false
	waitStatus(t, edge.control, func(st map[string]any) bool { return forward(st)["target"] == b.linkAddr() })
	for i := n / 2; i < n; i++ {
		send(t, push, frames[i][0], frames[i][1])
	}
	got := waitEvents(t, n, a.logPath, b.logPath)
	atA, atB := readEvents(t, a.logPath), readEvents(t, b.logPath)
	t.Logf("re-pointed with %d events in flight to A: %d events at A, %d at B, %d duplicates",
		inFlight, len(atA.seen), len(atB.seen), got.dups)
	for i := int64(n / 2); i < n; i++ {
		if atA.seen[i] > 0 || atB.seen[i] == 0 {
			t.Fatalf("event %d, sent after the switch: %d at A, %d at B; want it at B only", i, atA.seen[i], atB.seen[i])
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err = ox.ControlRequest(ctx, edge.control, map[string]any{"cmd": "FORWARD"})
	if err != nil || reply["target"] != b.linkAddr() {
		t.Fatalf("FORWARD without targets: %v %v", reply, err)
	}
}

func TestForwardCommandErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	plain := startOxd(t, nil)
	reply, err := ox.ControlRequest(ctx, plain.control, map[string]any{"cmd": "FORWARD", "targets": "127.0.0.1:1"})
	if err != nil || !strings.Contains(asString(reply["error"]), "spool") {
		t.Fatalf("FORWARD without a spool: %v %v", reply, err)
	}
	edge := startEdge(t, []string{freeAddr(t)}, nil)
	for _, bad := range []any{"", "h:port", "h:99999", int64(5), []any{int64(1)}} {
		reply, err := ox.ControlRequest(ctx, edge.control, map[string]any{"cmd": "FORWARD", "targets": bad})
		if err != nil || reply["error"] == nil {
			t.Fatalf("FORWARD %v: %v %v", bad, reply, err)
		}
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func TestForwardingOptions(t *testing.T) {
	cases := []struct {
		args []string
		want string // "" = accepted
	}{
		{[]string{"--spool-path", "/tmp/x"}, "needs --forward"},
		{[]string{"-r", "a:1,b:2"}, "several targets"},
		{[]string{"--spool-path", "/tmp/x", "-r", "a:1", "--forward-push"}, "exclude"},
		{[]string{"--link", "127.0.0.1"}, "needs --log-path"},
		{[]string{"--spool-path", "/tmp/x", "-r", "a,b:9"}, ""},
		{[]string{"--spool-path", "/tmp/x", "-r", "a,,b"}, "empty target"},
		{[]string{"--spool-path", "/tmp/x", "-r", "a", "--failover-after", "0s"}, "failover"},
		{[]string{"--spool-path", "/tmp/x", "-r", "a", "--spool-max-mb", "0"}, "spool-max-mb"},
		{[]string{"-r", "a", "--forward-push"}, ""},
		{[]string{"--link", "127.0.0.1", "-l", "/tmp/logs"}, ""},
		{[]string{"--link", "*", "-l", "/tmp/logs"}, ""},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parseOptions(tc.args, io.Discard)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error about %q", err, tc.want)
			}
			_ = o
		})
	}
	o, _ := parseOptions([]string{"--spool-path", "/tmp/x", "-r", "a, b:9"}, io.Discard)
	if len(o.targets) != 2 || o.targets[0] != "a:3515" || o.targets[1] != "b:9" {
		t.Fatalf("targets %v", o.targets)
	}
	if o, _ := parseOptions([]string{"--link", "*", "-l", "/tmp/logs"}, io.Discard); o.link != ":3515" {
		t.Fatalf("--link '*' binds %q, want every interface", o.link)
	}
}

// eventCount is what the central collectors' files hold.
type eventCount struct {
	seen map[int64]int
	dups int
}

// readEvents counts the events (by body "n") in every log file under dirs.
func readEvents(t *testing.T, dirs ...string) eventCount {
	t.Helper()
	c := eventCount{seen: map[int64]int{}}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, ".log") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			r := ox.NewReader(bytes.NewReader(b))
			for {
				v, err := r.Next()
				if err != nil {
					break
				}
				rec, err := ox.DecodeRecord(v)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return nil
				}
				n, _ := rec.Body["n"].(int64)
				c.seen[n]++
				if c.seen[n] > 1 {
					c.dups++
				}
			}
			return nil
		})
	}
	return c
}

func countAt(t *testing.T, dir string) int { return len(readEvents(t, dir).seen) }

// waitEvents waits (at most 60 s) until events 0..n-1 are all in the files under dirs.
func waitEvents(t *testing.T, n int, dirs ...string) eventCount {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := readEvents(t, dirs...)
		if len(c.seen) >= n {
			for i := range int64(n) {
				if c.seen[i] == 0 {
					t.Fatalf("event %d missing", i)
				}
			}
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", len(c.seen), n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestSpoolFailsOverToTheNextTarget(t *testing.T) {
	central := startCentral(t, nil)
	dead := freeAddr(t)
	edge := startEdge(t, []string{dead, central.linkAddr()}, func(o *options, d *daemon) { o.failover = 300 * time.Millisecond })
	push := pusher(t, edge.collect)
	for i := range 500 {
		meta, data := testEvent(t, "request", i)
		send(t, push, meta, data)
	}
	waitEvents(t, 500, central.logPath)
	fwd := edge.status(t)["forward"].(map[string]any)
	if asInt(fwd["failovers"]) < 1 || fwd["target"] != central.linkAddr() {
		t.Fatalf("forward status after failover: %v", fwd)
	}
}

// A spool bounded far below an outage's worth of events drops the oldest, counts
// them in STATUS and says so in the log; the newest events still arrive.
func TestSpoolBoundDropsOldestLoudly(t *testing.T) {
	link := freeAddr(t)
	edge := startEdge(t, []string{link}, func(o *options, d *daemon) { o.spoolMaxMB = 1 })
	push := pusher(t, edge.collect)
	const n = 20000 // about 5 MiB
	for i := range n {
		meta, data := testEvent(t, "request", i)
		send(t, push, meta, data)
	}
	edge.waitReceived(t, n)
	fwd := edge.status(t)["forward"].(map[string]any)
	dropped := asInt(fwd["spool_dropped"])
	if dropped == 0 || asInt(fwd["spool_bytes"]) > 1<<20 {
		t.Fatalf("forward status: %v", fwd)
	}
	if !strings.Contains(edge.out.String(), "spool: full, dropped oldest segment") {
		t.Fatal("dropping was not logged")
	}
	central := startCentral(t, func(o *options, d *daemon) { o.link = link })
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := readEvents(t, central.logPath)
		if len(got.seen) == n-int(dropped) {
			for i := int(dropped); i < n; i++ { // the newest n-dropped, each once
				if got.seen[int64(i)] != 1 {
					t.Fatalf("event %d arrived %d times", i, got.seen[int64(i)])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events arrived, want %d", len(got.seen), n-int(dropped))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
