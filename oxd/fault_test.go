package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/go-zeromq/zmq4"
)

// Fault tests: real oxd processes on loopback, killed with SIGKILL. Every event the
// forwarding oxd received must reach the central files; duplicates are counted and
// reported.

// events pre-encodes n events of type "fault" whose body holds "n" and pad bytes.
func faultEvents(t *testing.T, n, pad int) [][2][]byte {
	t.Helper()
	end := time.Now()
	out := make([][2][]byte, n)
	padding := strings.Repeat("p", pad)
	for i := range out {
		r := ox.Record{ID: fmt.Sprintf("%032x", i), Type: "fault", Host: "h", PID: 1, Start: end, End: end,
			Body: map[string]any{"n": i, "pad": padding}}
		data, err := ox.AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := ox.AppendMeta(nil, r.Meta())
		out[i] = [2][]byte{meta, data}
	}
	return out
}

// sender pushes events from a goroutine, pausing briefly every batch events so the
// stream lasts long enough for faults to land in the middle of it.
type sender struct {
	sent atomic.Int64
	done chan error
}

func startSender(s zmq4.Socket, evs [][2][]byte, batch int, pause time.Duration) *sender {
	sd := &sender{done: make(chan error, 1)}
	go func() {
		for i, ev := range evs {
			if err := s.Send(zmq4.NewMsgFrom(ev[0], ev[1])); err != nil {
				sd.done <- err
				return
			}
			sd.sent.Store(int64(i + 1))
			if batch > 0 && i%batch == batch-1 {
				time.Sleep(pause)
			}
		}
		sd.done <- nil
	}()
	return sd
}

func (sd *sender) waitSent(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for sd.sent.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("sender stuck at %d of %d", sd.sent.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (sd *sender) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-sd.done:
		if err != nil {
			t.Fatalf("send: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("sender did not finish")
	}
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func procStatus(t *testing.T, control string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ox.Status(ctx, control)
	if err != nil {
		t.Fatalf("STATUS %s: %v", control, err)
	}
	return st
}

func waitProcReceived(t *testing.T, control string, n int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := procStatus(t, control)
		if asInt(st["received"]) >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d", asInt(st["received"]), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDrained waits until the forwarding oxd has nothing unacknowledged.
func waitDrained(t *testing.T, control string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		fwd := procStatus(t, control)["forward"].(map[string]any)
		if asInt(fwd["unacked"]) == 0 {
			return fwd
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %v", fwd)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFaultCentralKilledTwiceMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	bin := oxdtest.Binary(t)
	logs := filepath.Join(t.TempDir(), "logs")
	link := freeAddr(t)
	startCentral := func() *exec.Cmd {
		cmd, _, _ := startProcess(t, bin, "-c", freeAddr(t), "-l", logs, "--link", link)
		return cmd
	}
	central := startCentral()
	edgeCollect := freeAddr(t)
	_, _, edgeCtl := startProcess(t, bin, "-c", edgeCollect, "--spool-path", filepath.Join(t.TempDir(), "spool"), "-r", link)

	const n = 60000
	sd := startSender(pusher(t, edgeCollect), faultEvents(t, n, 0), 50, time.Millisecond)
	for _, at := range []int64{n / 3, 2 * n / 3} {
		sd.waitSent(t, at)
		kill(t, central)
		time.Sleep(300 * time.Millisecond)
		central = startCentral()
	}
	sd.wait(t)
	waitProcReceived(t, edgeCtl, n)
	got := waitEvents(t, n, logs)
	fwd := waitDrained(t, edgeCtl)
	t.Logf("central killed twice: %d of %d events arrived, %d duplicates; forwarder reconnects %v",
		len(got.seen), n, got.dups, fwd["reconnects"])
	if len(got.seen) != n {
		t.Fatalf("%d events arrived, want %d", len(got.seen), n)
	}
}

// The forwarder is killed while it holds unacknowledged events: the central is
// paused (SIGSTOP) so acknowledgements stop while the forwarder keeps taking events
// in and sending; the forwarder is killed, the central resumes and writes what
// reached its socket from the dead connection (whose acknowledgements are lost),
// and the restarted forwarder sends everything unacknowledged again.
func TestFaultForwarderKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	bin := oxdtest.Binary(t)
	logs := filepath.Join(t.TempDir(), "logs")
	link := freeAddr(t)
	central, _, centralCtl := startProcess(t, bin, "-c", freeAddr(t), "-l", logs, "--link", link)
	spool := filepath.Join(t.TempDir(), "spool")
	edgeCollect := freeAddr(t)
	edgeArgs := []string{"-c", edgeCollect, "--spool-path", spool, "-r", link}
	edge, _, edgeCtl := startProcess(t, bin, edgeArgs...)

	const n = 60000
	evs := faultEvents(t, n, 0)
	push := pusher(t, edgeCollect)
	sd := startSender(push, evs[:n/3], 0, 0)
	sd.wait(t)
	waitProcReceived(t, edgeCtl, n/3)
	if err := central.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			central.Process.Signal(syscall.SIGCONT)
			resumed = true
		}
	}
	defer resume()
	sd = startSender(push, evs[n/3:2*n/3], 0, 0)
	sd.wait(t)
	st := waitProcReceived(t, edgeCtl, 2*n/3)
	fwd := st["forward"].(map[string]any)
	unacked := asInt(fwd["unacked"])
	kill(t, edge)
	resume()
	if unacked == 0 {
		t.Fatalf("the forwarder was to be killed holding unacknowledged events: %v", fwd)
	}
	t.Logf("forwarder killed holding %d unacknowledged events", unacked)

	_, _, edgeCtl = startProcess(t, bin, edgeArgs...)
	sd = startSender(pusher(t, edgeCollect), evs[2*n/3:], 0, 0)
	sd.wait(t)
	got := waitEvents(t, n, logs)
	waitDrained(t, edgeCtl)
	link2 := procStatus(t, centralCtl)["link"].(map[string]any)
	t.Logf("forwarder killed: %d of %d events arrived, %d duplicates in files, %v resent events dropped by the receiver",
		len(got.seen), n, got.dups, link2["duplicates"])
	if len(got.seen) != n {
		t.Fatalf("%d events arrived, want %d", len(got.seen), n)
	}
}

// The central stays down while the forwarder takes in more than its default 32 MiB
// memory queue would hold; the forwarder is even killed meanwhile. Everything arrives
// once the central starts.
func TestFaultCentralDownLongerThanMemoryWouldHold(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	bin := oxdtest.Binary(t)
	logs := filepath.Join(t.TempDir(), "logs")
	link := freeAddr(t)
	spool := filepath.Join(t.TempDir(), "spool")
	edgeCollect := freeAddr(t)
	edgeArgs := []string{"-c", edgeCollect, "--spool-path", spool, "-r", link}
	edge, _, edgeCtl := startProcess(t, bin, edgeArgs...)

	const n = 60000
	sd := startSender(pusher(t, edgeCollect), faultEvents(t, n, 600), 0, 0)
	sd.wait(t)
	st := waitProcReceived(t, edgeCtl, n)
	fwd := st["forward"].(map[string]any)
	if b := asInt(fwd["spool_bytes"]); b <= 32<<20 {
		t.Fatalf("spool holds %d bytes: the test must exceed the 32 MiB memory queue", b)
	}
	if age, _ := fwd["oldest_unacked_age"].(float64); age <= 0 {
		t.Fatalf("oldest_unacked_age %v while the central is down", fwd["oldest_unacked_age"])
	}
	t.Logf("central down: spool %d MiB, %v events unacknowledged, oldest %.1fs", asInt(fwd["spool_bytes"])>>20, fwd["unacked"], fwd["oldest_unacked_age"])
	kill(t, edge)
	_, _, edgeCtl = startProcess(t, bin, edgeArgs...)
	startProcess(t, bin, "-c", freeAddr(t), "-l", logs, "--link", link)
	got := waitEvents(t, n, logs)
	waitDrained(t, edgeCtl)
	t.Logf("after the outage: %d of %d events arrived, %d duplicates", len(got.seen), n, got.dups)
	if len(got.seen) != n {
		t.Fatalf("%d events arrived, want %d", len(got.seen), n)
	}
}
