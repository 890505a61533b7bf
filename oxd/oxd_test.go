package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
	"github.com/go-zeromq/zmq4"
)

func TestFixtureFramesBecomeTheOriginalFiles(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		rotate        int
	}{
		{"daily", "logs-daily", 0},
		{"every 2 hours", "logs-hourly", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: fixtureTime}
			x := startOxd(t, func(o *options, d *daemon) { o.rotateHours = tc.rotate; d.now = clock.Now })
			push := pusher(t, x.collect)
			frames := testenv.WireFrames(t)
			for _, f := range frames {
				send(t, push, f.Meta, f.Data)
			}
			waitTree(t, x.logPath, fixtureTree(t, tc.fixture))
			if err := x.stop(t); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if got, want := tree(t, x.logPath), fixtureTree(t, tc.fixture); !equalTrees(got, want) {
				t.Fatalf("after shutdown: got %v, want %v", sizes(got), sizes(want))
			}
		})
	}
}

// controlSession is the original's recorded control exchange.
type controlSession struct {
	RequestHex string         `json:"request_hex"`
	ReplyHex   string         `json:"reply_hex"`
	Reply      map[string]any `json:"reply"`
	Kind       string         `json:"kind"`
	Type       string         `json:"type"`
	FramesHex  []string       `json:"frames_hex"`
}

func loadSession(t *testing.T) []controlSession {
	t.Helper()
	b, err := os.ReadFile(testenv.Fixture(t, "control-and-stream.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []controlSession
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s controlSession
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// rawControl sends raw request bytes with a zmq4 REQ socket and returns the reply.
func rawControl(t *testing.T, addr string, body []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := zmq4.NewReq(ctx, quietLog)
	defer req.Close()
	if err := req.Dial("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	if err := req.Send(zmq4.NewMsg(body)); err != nil {
		t.Fatal(err)
	}
	m, err := req.Recv()
	if err != nil {
		t.Fatalf("control reply: %v", err)
	}
	return m.Frames[len(m.Frames)-1]
}

func TestControlCommandsAnswerLikeTheOriginal(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })
	push := pusher(t, x.collect)
	for _, f := range testenv.WireFrames(t) {
		send(t, push, f.Meta, f.Data)
	}
	x.waitReceived(t, 8)
	for _, s := range loadSession(t) {
		if s.Kind != "control" {
			continue
		}
		req, _ := hex.DecodeString(s.RequestHex)
		v, _ := ox.Decode(req)
		cmd := v.(map[string]any)["cmd"].(string)
		t.Run(cmd, func(t *testing.T) {
			if cmd == "SHUTDOWN" {
				return // last: below
			}
			raw := rawControl(t, x.control, req)
			dv, err := ox.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			got := dv.(map[string]any)
			for k := range s.Reply {
				if _, ok := got[k]; !ok {
					t.Errorf("reply lacks the original key %q: %v", k, got)
				}
			}
			switch cmd {
			case "SOCK_STREAM":
				if asInt(got["port"]) != int64(x.d.stream.Port()) {
					t.Errorf("port %v, stream on %d", got["port"], x.d.stream.Port())
				}
			case "SOCK_COLLECT":
				if asInt(got["port"]) != int64(x.d.collect.Port()) {
					t.Errorf("port %v, collect on %d", got["port"], x.d.collect.Port())
				}
			case "STATUS":
				wantEvents := s.Reply["events"].(map[string]any)
				gotEvents := got["events"].(map[string]any)
				if strings.Join(keys(gotEvents), ",") != strings.Join(keys(wantEvents), ",") {
					t.Errorf("events %v, want %v", keys(gotEvents), keys(wantEvents))
				}
				if _, ok := got["hosts"].(map[string]any)["vm"]; !ok {
					t.Errorf("hosts %v lack vm", got["hosts"])
				}
				for _, k := range []string{"received", "dropped", "stream", "files"} {
					if _, ok := got[k]; !ok {
						t.Errorf("no counter %q in %v", k, got)
					}
				}
			default: // the unknown command: byte-identical
				if hex.EncodeToString(raw) != s.ReplyHex {
					t.Errorf("reply %x, original %s", raw, s.ReplyHex)
				}
			}
		})
	}
	// SHUTDOWN: the original's exact reply, then a clean exit with the files complete.
	req, _ := hex.DecodeString("81a3636d64a853485554444f574e")
	if got := hex.EncodeToString(rawControl(t, x.control, req)); got != "81a26f6bc3" {
		t.Fatalf("SHUTDOWN reply %s", got)
	}
	select {
	case err := <-x.done:
		if err != nil {
			t.Fatalf("run after SHUTDOWN: %v", err)
		}
		close(x.done)
	case <-time.After(10 * time.Second):
		t.Fatal("oxd still running 10 s after SHUTDOWN")
	}
	if got, want := tree(t, x.logPath), fixtureTree(t, "logs-daily"); !equalTrees(got, want) {
		t.Fatalf("files after SHUTDOWN: %v, want %v", sizes(got), sizes(want))
	}
}

func TestStatusBeforeAnyEventHasNilLastAndLag(t *testing.T) {
	x := startOxd(t, nil)
	st := x.status(t)
	for _, k := range []string{"last", "lag"} {
		if v, ok := st[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want nil", k, v, ok)
		}
	}
}

func TestGarbageControlRequestsGetErrorsAndThePortKeepsWorking(t *testing.T) {
	x := startOxd(t, nil)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not MessagePack", []byte{0xc1, 0xc1}},
		{"truncated map", []byte{0x81, 0xa3, 'c'}},
		{"a list", []byte{0x91, 0x01}},
		{"a string", []byte("\xa6STATUS")},
		{"no cmd", mustEncode(t, map[string]any{"command": "STATUS"})},
		{"cmd not a string", mustEncode(t, map[string]any{"cmd": 7})},
		{"oversized", bytes.Repeat([]byte{0x90}, maxRequest+10)},
		{"deep nesting", bytes.Repeat([]byte{0x91}, 100000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawControl(t, x.control, tc.body)
			v, err := ox.Decode(raw)
			if err != nil {
				t.Fatalf("reply is not MessagePack: %v", err)
			}
			if _, ok := v.(map[string]any)["error"]; !ok {
				t.Fatalf("reply %v has no error", v)
			}
		})
	}
	t.Run("raw TCP garbage", func(t *testing.T) {
		c, err := netDial(x.control)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff", 200)))
		c.Close()
	})
	if st := x.status(t); st["events"] == nil {
		t.Fatalf("STATUS after garbage: %v", st)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := ox.AppendValue(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamDeliversByPrefixInOrder(t *testing.T) {
	x := startOxd(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := ox.Subscribe(ctx, x.control, "request")
	defer stream.Close()
	waitSubscribers(t, x, 1)

	push := pusher(t, x.collect)
	for _, f := range testenv.WireFrames(t) {
		send(t, push, f.Meta, f.Data)
	}
	var want []controlSession
	for _, s := range loadSession(t) {
		if s.Kind == "stream" {
			want = append(want, s)
		}
	}
	for i, w := range want {
		typ, data, err := stream.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if typ != w.Type || hex.EncodeToString([]byte(typ)) != w.FramesHex[0] || hex.EncodeToString(data) != w.FramesHex[1] {
			t.Fatalf("event %d: got %s, original sent %s", i, typ, w.Type)
		}
	}
}

func waitSubscribers(t *testing.T, x *testOxd, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := x.d.stream.Stats()
		subs := *x.d.stream.subs.Load()
		ready := 0
		for _, s := range subs {
			if len(*s.prefixes.Load()) > 0 {
				ready++
			}
		}
		if ready >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers ready, want %d (%v)", ready, n, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetaTypeNamesTheFileWhenTheDataSaysOtherwise(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })
	meta, _ := testEvent(t, "request", 1)
	_, data := testEvent(t, "other", 1)
	send(t, pusher(t, x.collect), meta, data)
	waitTree(t, x.logPath, map[string][]byte{"20261124/request-20261124.log": data})
}

func TestFilesCloseWhenIdleAndReopenOnDemand(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now; d.tick = 10 * time.Millisecond })
	push := pusher(t, x.collect)
	meta, data := testEvent(t, "request", 1)
	send(t, push, meta, data)
	x.waitReceived(t, 1)
	waitFiles := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			files, _ := x.status(t)["files"].(map[string]any)
			if asInt(files["open"]) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("open files %v, want %d", files, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFiles(1)
	clock.Set(fixtureTime.Add(61 * time.Second))
	waitFiles(0)
	send(t, push, meta, data)
	x.waitReceived(t, 2)
	waitTree(t, x.logPath, map[string][]byte{"20261124/request-20261124.log": append(append([]byte{}, data...), data...)})
}

func TestRotationAndReopenWithTheInjectedClock(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 24, 23, 59, 59, 0, time.UTC)}
	x := startOxd(t, func(o *options, d *daemon) {
		o.rotateHours = 12
		d.now = clock.Now
		d.tick = 10 * time.Millisecond
	})
	push := pusher(t, x.collect)
	meta, data := testEvent(t, "request", 1)
	send(t, push, meta, data)
	x.waitReceived(t, 1)
	clock.Set(time.Date(2026, 11, 25, 0, 0, 1, 0, time.UTC))
	send(t, push, meta, data)
	x.waitReceived(t, 2)
	first := filepath.Join(x.logPath, "20261125", "request-2026112500.log")
	waitTree(t, x.logPath, map[string][]byte{
		"20261124/request-2026112412.log": data,
		"20261125/request-2026112500.log": data,
	})
	// Moved away by an external rotation: the next events go to a new file.
	if err := os.Rename(first, first+".old"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := x.status(t)["files"].(map[string]any)
		if asInt(files["reopened"]) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moved file never reopened: %v", files)
		}
		time.Sleep(10 * time.Millisecond)
	}
	send(t, push, meta, data)
	x.waitReceived(t, 3)
	waitTree(t, x.logPath, map[string][]byte{
		"20261124/request-2026112412.log":     data,
		"20261125/request-2026112500.log.old": data,
		"20261125/request-2026112500.log":     data,
	})
}
