package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// The tests in this file attack a real oxd process through its ports, as anyone who
// can reach them could, and check that it stays up, within its memory bound, and
// keeps writing good events.

// rssBound is the peak resident memory oxd must stay under, with default flags,
// whatever a peer sends (docs/security.md).
const rssBound = 256 << 20

// attacked is an oxd process under attack.
type attacked struct {
	*oxdtest.Oxd
	stream string // stream address
	good   int    // good events sent so far
}

func startAttacked(t *testing.T, extra ...string) *attacked {
	t.Helper()
	o := oxdtest.Start(t, filepath.Join(t.TempDir(), "logs"), extra...)
	a := &attacked{Oxd: o}
	reply := a.request(t, map[string]any{"cmd": "SOCK_STREAM"})
	a.stream = "127.0.0.1:" + strconv.Itoa(int(asInt(reply["port"])))
	return a
}

func (a *attacked) request(t *testing.T, req map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ox.ControlRequest(ctx, a.Control, req)
	if err != nil {
		t.Fatalf("%v: %v (oxd alive: %v)", req, err, a.Alive())
	}
	return reply
}

// rawPeer dials addr and completes the ZMTP handshake as a typ socket; the test
// then writes what it likes.
func rawPeer(t testing.TB, addr, typ string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := zmtp.Handshake(nc, typ, 5*time.Second); err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	return nc
}

// checkServing checks that oxd is alive, within rssBound, and writes n more good
// events sent by a new client.
func (a *attacked) checkServing(t *testing.T, n int) {
	t.Helper()
	if !a.Alive() {
		t.Fatalf("oxd exited")
	}
	push := pusher(t, a.Collect)
	for i := range n {
		meta, data := testEvent(t, "good", a.good+i)
		send(t, push, meta, data)
	}
	a.good += n
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := a.request(t, map[string]any{"cmd": "STATUS"})
		if asInt(st["received"]) >= int64(a.good) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("oxd received %d good events, want %d", asInt(st["received"]), a.good)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.checkRSS(t)
}

func (a *attacked) checkRSS(t *testing.T) int64 {
	t.Helper()
	peak, err := oxdtest.PeakRSS(a.Pid())
	if err != nil {
		t.Skipf("no peak RSS: %v", err)
	}
	t.Logf("oxd peak RSS %.1f MiB", float64(peak)/(1<<20))
	if peak > rssBound {
		t.Errorf("oxd peak RSS %d MiB, bound %d MiB", peak>>20, rssBound>>20)
	}
	return peak
}

func (a *attacked) dropped(t *testing.T, reason string) int64 {
	t.Helper()
	st := a.request(t, map[string]any{"cmd": "STATUS"})
	d, _ := st["dropped"].(map[string]any)
	return asInt(d[reason])
}

func (a *attacked) waitDropped(t *testing.T, reason string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.dropped(t, reason) < n {
		if time.Now().After(deadline) {
			t.Fatalf("dropped[%s] = %d, want %d", reason, a.dropped(t, reason), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// issueCrashBytes is the message that stopped oxd: a 3-byte frame with MORE, then a
// long frame announcing 2^64-1 bytes (the sum of the sizes wrapped).
var issueCrashBytes = []byte{0x01, 0x03, 0x30, 0x30, 0x30, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func TestAttackSizeSumThatWrapsDoesNotStopOxd(t *testing.T) {
	a := startAttacked(t)
	for _, msg := range [][]byte{
		issueCrashBytes,
		append(append([]byte{}, issueCrashBytes[:5]...), 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd),
		{0x01, 0x03, 0x30, 0x30, 0x30, 0x03, 0x80, 0, 0, 0, 0, 0, 0, 0},                      // 2^63: negative as an int
		{0x03, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 2}, // first frame huge
	} {
		nc := rawPeer(t, a.Collect, "PUSH")
		nc.Write(msg)
	}
	a.waitDropped(t, "protocol", 4)
	a.checkServing(t, 10)
}

func TestAttackEmptyFramesAreBoundedOnEveryPort(t *testing.T) {
	a := startAttacked(t)
	flood := bytes.Repeat([]byte{0x01, 0x00}, 1<<20) // 2 MiB of empty MORE frames
	for _, p := range []struct{ addr, typ string }{
		{a.Collect, "PUSH"}, {a.Control, "REQ"}, {a.stream, "SUB"},
	} {
		var wg sync.WaitGroup
		for range 4 {
			nc := rawPeer(t, p.addr, p.typ)
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				nc.Write(flood) // oxd closes the connection after zmtp.MaxFrames
				nc.Close()
			}()
		}
		wg.Wait()
	}
	a.checkServing(t, 10)
}

// TestAttackAnnouncedSizesCostNothingUntilSent: 1000 connections each announce a
// maximum-size message and send the start of it; oxd's memory follows the bytes
// received, not the lengths announced.
func TestAttackAnnouncedSizesCostNothingUntilSent(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 connections")
	}
	a := startAttacked(t)
	meta, _ := testEvent(t, "good", 0)
	var msg []byte
	msg = append(msg, 0x01, byte(len(meta)))
	msg = append(msg, meta...)
	msg = append(msg, 0x02)
	msg = binary.BigEndian.AppendUint64(msg, 16<<20-uint64(len(meta)))
	msg = append(msg, 0xde, 0xff, 0xff) // a map of 65535 entries, never finished
	msg = append(msg, bytes.Repeat([]byte{0xa1, 'k', 0x01}, 8<<10)...)
	for range 1000 {
		nc := rawPeer(t, a.Collect, "PUSH")
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	a.checkServing(t, 10)
}
