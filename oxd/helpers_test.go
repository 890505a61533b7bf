package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
	"github.com/go-zeromq/zmq4"
)

// TestMain removes the oxd binary the process tests build (oxdtest.Binary).
func TestMain(m *testing.M) {
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}

// fixtureTime is when the original captured the fixtures: 2026-11-24 13:xx UTC, so
// the files oxd writes at this injected time carry the fixtures' names.
var fixtureTime = time.Date(2026, 11, 24, 13, 20, 0, 0, time.UTC)

// fakeClock is an injectable clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testOxd is an oxd running in the test process on free loopback ports.
type testOxd struct {
	d       *daemon
	control string // host:port
	collect string
	logPath string
	out     *testenv.SyncBuffer
	cancel  context.CancelFunc
	done    chan error
}

// startOxd runs oxd in-process. mod may change the options and the daemon (clock,
// tick) before it starts.
func startOxd(t *testing.T, mod func(*options, *daemon)) *testOxd {
	t.Helper()
	o := options{
		control:      "127.0.0.1:0",
		collect:      "127.0.0.1:0",
		logPath:      filepath.Join(t.TempDir(), "logs"),
		forwardMB:    32,
		maxEventSize: 16 << 20,
		maxConns:     1024,
		verbose:      2,
	}
	out := &testenv.SyncBuffer{}
	d, err := newDaemon(o, out)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&d.opts, d)
		d.log = newLogger(out, d.opts.verbose)
	}
	ready := make(chan struct{})
	d.ready = func(*daemon) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	x := &testOxd{d: d, logPath: d.opts.logPath, out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { x.done <- d.run(ctx) }()
	select {
	case <-ready:
	case err := <-x.done:
		cancel()
		t.Fatalf("oxd did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("oxd did not start in 10 s")
	}
	x.control = "127.0.0.1:" + strconv.Itoa(d.control.Port())
	x.collect = "127.0.0.1:" + strconv.Itoa(d.collect.Port())
	t.Cleanup(func() {
		x.stop(t)
		if t.Failed() {
			t.Logf("oxd log:\n%s", out.String())
		}
	})
	return x
}

// stop shuts oxd down as SIGTERM would and waits for run to return.
func (x *testOxd) stop(t *testing.T) error {
	t.Helper()
	x.cancel()
	select {
	case err, ok := <-x.done:
		if ok {
			close(x.done)
		}
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("oxd did not stop in 15 s")
		return nil
	}
}

func (x *testOxd) status(t *testing.T) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ox.Status(ctx, x.control)
	if err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	return st
}

// waitReceived waits until STATUS counts n received events.
func (x *testOxd) waitReceived(t *testing.T, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := x.status(t)
		if got := asInt(st["received"]); got >= int64(n) {
			return st
		} else if time.Now().After(deadline) {
			t.Fatalf("oxd received %d events, want %d; status %v", got, n, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDropped waits until the drop counter for reason reaches n.
func (x *testOxd) waitDropped(t *testing.T, reason string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := x.status(t)
		d, _ := st["dropped"].(map[string]any)
		if got := asInt(d[reason]); got >= int64(n) {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("dropped[%s] = %d, want %d; status %v", reason, got, n, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	}
	return -1
}

var quietLog = zmq4.WithLogger(log.New(io.Discard, "", 0))

// pusher is an application's PUSH socket (zmq4, as the Go library uses).
func pusher(t *testing.T, addr string) zmq4.Socket {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := zmq4.NewPush(ctx, quietLog)
	if err := s.Dial("tcp://" + addr); err != nil {
		cancel()
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { s.Close(); cancel() })
	return s
}

func send(t *testing.T, s zmq4.Socket, frames ...[]byte) {
	t.Helper()
	if err := s.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// event builds the two frames of an event of type typ with a small body.
func testEvent(t testing.TB, typ string, n int) (meta, data []byte) {
	t.Helper()
	end := time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)
	r := ox.Record{ID: "0123456789abcdef0123456789abcdef", Type: typ, Host: "h", PID: 1,
		Start: end, End: end, Body: map[string]any{"n": n}}
	data, err := ox.AppendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	meta, err = ox.AppendMeta(nil, ox.Meta{End: ox.UnixFloat(end), Host: "h", Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

// tree returns every regular file under dir as relative path -> contents.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// waitTree waits until the files under dir equal want.
func waitTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := tree(t, dir)
		if equalTrees(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("files under %s: got %v, want %v", dir, sizes(got), sizes(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func equalTrees(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func sizes(m map[string][]byte) map[string]int {
	s := map[string]int{}
	for k, v := range m {
		s[k] = len(v)
	}
	return s
}

// fixtureTree loads the original's files, e.g. "logs-daily".
func fixtureTree(t *testing.T, name string) map[string][]byte {
	t.Helper()
	return tree(t, testenv.Fixture(t, name))
}

// freeAddr is a loopback address nobody listens on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
