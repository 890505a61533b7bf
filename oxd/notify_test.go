package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"no watchdog without WATCHDOG_USEC", nil, 0},
		{"half of WATCHDOG_USEC", map[string]string{"WATCHDOG_USEC": "30000000"}, 15 * time.Second},
		{"WATCHDOG_PID naming this process", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"}, time.Second},
		{"WATCHDOG_PID naming another process", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "43"}, 0},
		{"zero is off", map[string]string{"WATCHDOG_USEC": "0"}, 0},
		{"garbage is off", map[string]string{"WATCHDOG_USEC": "soon"}, 0},
		{"negative is off", map[string]string{"WATCHDOG_USEC": "-5"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := watchdogInterval(func(k string) string { return tc.env[k] }, 42)
			if got != tc.want {
				t.Fatalf("interval = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNotifierWithoutSocketSendsNothing(t *testing.T) {
	n, err := newNotifier(func(string) string { return "" }, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	n.Send("READY=1") // must not panic or block
	if n.Watchdog() != nil {
		t.Fatal("a watchdog without NOTIFY_SOCKET")
	}
	var nilWatchdog *watchdog
	if nilWatchdog.C() != nil {
		t.Fatal("a nil watchdog ticks")
	}
	nilWatchdog.Ping()
	nilWatchdog.Stop()
}

func TestNotifierRejectsRelativeSocket(t *testing.T) {
	_, err := newNotifier(func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return "run/notify"
		}
		return ""
	}, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
		t.Fatalf("err = %v, want one naming NOTIFY_SOCKET", err)
	}
}

// notifySocket is the service manager's end: a unixgram socket that collects
// datagrams with the time each arrived.
type notifySocket struct {
	name string // what NOTIFY_SOCKET says
	conn *net.UnixConn
	msgs chan notifyMsg
}

type notifyMsg struct {
	text string
	at   time.Time
}

func listenNotify(t *testing.T, abstract bool) *notifySocket {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = fmt.Sprintf("@ox-notify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{name: name, conn: conn, msgs: make(chan notifyMsg, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- notifyMsg{string(buf[:n]), time.Now()}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

// next returns the next datagram holding want, failing after timeout; skipped
// ones are appended to seen.
func (s *notifySocket) next(t *testing.T, want string, timeout time.Duration, seen *[]notifyMsg) notifyMsg {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if seen != nil {
				*seen = append(*seen, m)
			}
			if strings.Contains(m.text, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from oxd in %v", want, timeout)
		}
	}
}

// TestNotifyProtocol runs the oxd binary as systemd would, with NOTIFY_SOCKET and
// WATCHDOG_USEC, and checks what arrives on a real unixgram socket: READY=1 only
// when the ports accept, STATUS= lines that count events, WATCHDOG=1 at half the
// watchdog time, STOPPING=1 at SIGTERM.
func TestNotifyProtocol(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		name := "path socket"
		if abstract {
			name = "abstract socket"
		}
		t.Run(name, func(t *testing.T) {
			const watchdogUsec = 600000 // pings every 300 ms
			sock := listenNotify(t, abstract)
			control, collect := freeAddr(t), freeAddr(t)
			logPath := filepath.Join(t.TempDir(), "logs")
			stream := freeAddr(t)
			_, streamPort, _ := net.SplitHostPort(stream)
			cmd := exec.Command(oxdtest.Binary(t), "--control", control, "--collect", collect,
				"--stream-port", streamPort, "--log-path", logPath, "-v")
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.name,
				"WATCHDOG_USEC="+strconv.Itoa(watchdogUsec), "WATCHDOG_PID=")
			out := &testenv.SyncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
					cmd.Wait()
				}
				if t.Failed() {
					t.Logf("oxd output:\n%s", out.String())
				}
			})

			ready := sock.next(t, "READY=1", 20*time.Second, nil)
			if !strings.Contains(ready.text, "STATUS=received 0, written 0, dropped 0") {
				t.Errorf("READY datagram %q lacks the first STATUS line", ready.text)
			}
			// Every port accepts the moment READY=1 is out (the bare connection
			// to the collection port counts as one dropped handshake).
			for _, addr := range []string{control, collect, stream} {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					t.Fatalf("READY=1 sent but %s refuses: %v", addr, err)
				}
				c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := ox.Status(ctx, control); err != nil {
				t.Fatalf("READY=1 sent but the control port does not answer: %v", err)
			}
			cancel()

			s := ox.NewSender(collect, nil)
			for i := range 5 {
				meta, data := testEvent(t, "notify", i)
				if err := s.Send(context.Background(), meta, data); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			s.Close(ctx)
			cancel()

			var seen []notifyMsg
			sock.next(t, "STATUS=received 5, written 5, dropped 1", statusEvery+10*time.Second, &seen)
			var pings []time.Time
			for _, m := range seen {
				if m.text == "WATCHDOG=1" {
					pings = append(pings, m.at)
				}
			}
			if len(pings) < 5 {
				t.Fatalf("%d WATCHDOG=1 in %v, want one every %v", len(pings), time.Since(ready.at), watchdogUsec/2*time.Microsecond)
			}
			var gaps []time.Duration
			for i := 1; i < len(pings); i++ {
				gaps = append(gaps, pings[i].Sub(pings[i-1]))
			}
			sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
			want := watchdogUsec / 2 * time.Microsecond
			if med := gaps[len(gaps)/2]; med < want*2/3 || med > want*3/2 {
				t.Errorf("median WATCHDOG=1 interval %v, want about %v", med, want)
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			stopping := sock.next(t, "STOPPING=1", 10*time.Second, nil)
			if !strings.Contains(stopping.text, "received 5") {
				t.Errorf("STOPPING datagram %q lacks the last counts", stopping.text)
			}
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("oxd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// blockingForwarder wedges the collection loop in Forward until released.
type blockingForwarder struct {
	entered chan struct{}
	release chan struct{}
}

func (f *blockingForwarder) Forward(meta, data []byte) bool {
	close(f.entered)
	<-f.release
	return true
}
func (f *blockingForwarder) Stats() map[string]any           { return map[string]any{} }
func (f *blockingForwarder) Close(ctx context.Context) error { return nil }

// TestWatchdogStopsWhenLoopIsWedged checks that the pings come from the loop: a
// loop stuck in a write (here a forward) sends none until it moves again, so
// systemd's watchdog restarts a wedged oxd.
func TestWatchdogStopsWhenLoopIsWedged(t *testing.T) {
	sock := listenNotify(t, false)
	n, err := newNotifier(func(k string) string {
		return map[string]string{"NOTIFY_SOCKET": sock.name, "WATCHDOG_USEC": "100000"}[k]
	}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan batch)
	fwd := &blockingForwarder{entered: make(chan struct{}), release: make(chan struct{})}
	lp := &loop{in: in, now: time.Now, tick: time.Second, fwd: fwd, stats: newStats(), watchdog: n.Watchdog()}
	done := make(chan error, 1)
	go func() { done <- lp.run() }()

	sock.next(t, "WATCHDOG=1", 5*time.Second, nil) // alive: pings
	meta, data := testEvent(t, "wedge", 1)
	in <- batch{events: []event{{typ: "wedge", meta: meta, data: data}}}
	<-fwd.entered
	// A datagram queued now comes after every ping the loop sent before it
	// wedged: past it, expect silence.
	mark, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock.name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	mark.Write([]byte("MARK"))
	mark.Close()
	sock.next(t, "MARK", 5*time.Second, nil)
	select {
	case m := <-sock.msgs:
		t.Fatalf("%q while the loop is wedged", m.text)
	case <-time.After(500 * time.Millisecond): // ten ping intervals
	}
	close(fwd.release)
	sock.next(t, "WATCHDOG=1", 5*time.Second, nil) // moving again: pings again
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lp.stats.received != 1 {
		t.Fatalf("received %d after the wedge, want 1", lp.stats.received)
	}
}

func TestStatusLine(t *testing.T) {
	dead := freeAddr(t) // nothing listens: forwarded events wait
	tests := []struct {
		name  string
		start func(t *testing.T) *testOxd
		want  string
	}{
		{"files", func(t *testing.T) *testOxd { return startOxd(t, nil) },
			"received 3, written 3, dropped 0"},
		{"spooled forwarding shows the spool", func(t *testing.T) *testOxd { return startEdge(t, []string{dead}, nil) },
			"received 3, written 0, spool 3 unacked ("},
		{"plain forwarding shows the queue", func(t *testing.T) *testOxd {
			return startOxd(t, func(o *options, d *daemon) { o.forward = dead })
		}, "received 3, written 3, forward queue 3 ("},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.start(t)
			push := pusher(t, x.collect)
			for i := range 3 {
				meta, data := testEvent(t, "status", i)
				send(t, push, meta, data)
			}
			x.waitReceived(t, 3)
			if got := x.d.statusLine(); !strings.HasPrefix(got, tc.want) || strings.Contains(got, "\n") {
				t.Fatalf("status line %q, want it to start with %q", got, tc.want)
			}
		})
	}
}
