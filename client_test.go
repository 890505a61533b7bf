package ox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// fakeCollector is a minimal stand-in for oxd's control and stream ports: a real
// REP socket answering SOCK_STREAM, and a real PUB socket.
type fakeCollector struct {
	controlAddr string
	pub         zmq4.Socket
	rep         zmq4.Socket
	requests    chan []byte
	stop        func()
}

func startFakeCollector(t *testing.T, ctx context.Context, replies map[string][]byte) *fakeCollector {
	t.Helper()
	return startFakeCollectorAt(t, ctx, "127.0.0.1:0", replies)
}

func startFakeCollectorAt(t *testing.T, ctx context.Context, controlAddr string, replies map[string][]byte) *fakeCollector {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	pub := zmq4.NewPub(ctx)
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	streamPort := pub.Addr().(interface{ String() string }).String()
	_, port, _ := strings.Cut(streamPort, ":")
	rep := zmq4.NewRep(ctx)
	if err := rep.Listen("tcp://" + controlAddr); err != nil {
		t.Fatal(err)
	}
	fc := &fakeCollector{controlAddr: rep.Addr().String(), pub: pub, rep: rep, requests: make(chan []byte, 10)}
	go func() {
		for {
			msg, err := rep.Recv()
			if err != nil {
				return
			}
			req := msg.Frames[0]
			select {
			case fc.requests <- req:
			default:
			}
			var reply []byte
			if v, err := ox.Decode(req); err == nil {
				if m, ok := v.(map[string]any); ok {
					cmd, _ := m["cmd"].(string)
					if cmd == "SOCK_STREAM" {
						reply, _ = ox.AppendValue(nil, map[string]any{"port": mustAtoi(port)})
					} else if r, ok := replies[cmd]; ok {
						reply = r
					}
				}
			}
			if reply == nil {
				reply, _ = ox.AppendValue(nil, map[string]any{"error": "Unknown Command"})
			}
			if err := rep.Send(zmq4.NewMsg(reply)); err != nil {
				return
			}
		}
	}()
	fc.stop = func() {
		cancel()
		rep.Close()
		pub.Close()
	}
	t.Cleanup(fc.stop)
	return fc
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

type controlFixture struct {
	Kind      string         `json:"kind"`
	Request   string         `json:"request_hex"`
	Reply     string         `json:"reply_hex"`
	ReplyJSON map[string]any `json:"reply"`
}

func controlFixtures(t *testing.T) []controlFixture {
	f, err := os.Open(testenv.Fixture(t, "control-and-stream.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []controlFixture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c controlFixture
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Kind == "control" {
			out = append(out, c)
		}
	}
	return out
}

func TestControlRequestSpeaksTheOriginalEncoding(t *testing.T) {
	fixtures := controlFixtures(t)
	replies := map[string][]byte{}
	for _, c := range fixtures {
		req, _ := hex.DecodeString(c.Request)
		v, err := ox.Decode(req)
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := hex.DecodeString(c.Reply)
		replies[v.(map[string]any)["cmd"].(string)] = reply
	}
	delete(replies, "SOCK_STREAM") // answered with the fake's own stream port
	ctx := context.Background()
	fc := startFakeCollector(t, ctx, replies)
	for _, c := range fixtures {
		req, _ := hex.DecodeString(c.Request)
		v, _ := ox.Decode(req)
		cmd := v.(map[string]any)["cmd"].(string)
		if cmd == "SOCK_STREAM" {
			continue
		}
		t.Run(cmd, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			got, err := ox.ControlRequest(ctx, fc.controlAddr, map[string]any{"cmd": cmd})
			if err != nil {
				t.Fatal(err)
			}
			sent := <-fc.requests
			if !bytes.Equal(sent, req) {
				t.Errorf("request bytes %x, the original sent %x", sent, req)
			}
			if g, w := normalize(t, got), normalize(t, c.ReplyJSON); fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("reply %v, want %v", g, w)
			}
		})
	}
}

func TestControlRequestTimesOutOnADeadPort(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := ox.Status(ctx, addr)
	if err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("err = %v, want a 'no answer' error", err)
	}
}

func TestSubscribeFiltersByPrefixAndReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	controlAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	fc := startFakeCollectorAt(t, ctx, controlAddr, nil)
	s := ox.Subscribe(ctx, controlAddr, "request", ox.StreamIdleTimeout(300*time.Millisecond))
	defer s.Close()

	// The subscription needs a moment to reach the publisher; publish until the
	// first event arrives, bounded by the test's context.
	got := make(chan string, 100)
	go func() {
		for {
			typ, _, err := s.Next(ctx)
			if err != nil {
				return
			}
			got <- typ
		}
	}()
	waitFor(t, fc, got, "request.before")

	// The collector restarts: same control port, a new stream port. The stream asks
	// the control port again once it has been idle and carries on.
	fc.stop()
	fc = startFakeCollectorAt(t, ctx, controlAddr, nil)
	waitFor(t, fc, got, "request.after")
}

// waitFor publishes marker (and events the subscription must filter out) until the
// marker arrives.
func waitFor(t *testing.T, fc *fakeCollector, got chan string, marker string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for arrived := false; !arrived; {
		for _, typ := range []string{"other", marker} {
			fc.pub.Send(zmq4.NewMsgFrom([]byte(typ), []byte{0x80}))
		}
		select {
		case typ := <-got:
			if !strings.HasPrefix(typ, "request") {
				t.Fatalf("received %q through a 'request' subscription", typ)
			}
			arrived = typ == marker
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event arrived")
		}
	}
}
