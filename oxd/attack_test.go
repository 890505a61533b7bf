package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/fwdlink"
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

func TestPanicServingAConnectionClosesOnlyThatConnection(t *testing.T) {
	x := startOxd(t, func(o *options, d *daemon) {})
	x.d.control.Handle("BOOM", func(map[string]any) (map[string]any, func()) { panic("boom") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := ox.ControlRequest(ctx, x.control, map[string]any{"cmd": "BOOM"}); err == nil {
		t.Fatal("a request whose handler panicked got a reply")
	}
	meta, data := testEvent(t, "good", 1)
	send(t, pusher(t, x.collect), meta, data)
	st := x.waitReceived(t, 1)
	if n := asInt(st["dropped"].(map[string]any)["panic"]); n != 1 {
		t.Errorf("dropped.panic = %d, want 1", n)
	}
	if out := x.out.String(); !strings.Contains(out, "panic=boom") || !strings.Contains(out, "goroutine") {
		t.Errorf("no log line with the panic and its stack:\\n%s", out)
	}
}

// TestAttackIdleConnectionsDoNotLockClientsOut holds every port's connection
// limit with idle connections, some after the handshake and some in the middle of
// a message, and checks new clients are still served while they are held.
func TestAttackIdleConnectionsDoNotLockClientsOut(t *testing.T) {
	if testing.Short() {
		t.Skip("1200 connections")
	}
	a := startAttacked(t)
	for range maxControlConns {
		rawPeer(t, a.Control, "REQ")
	}
	for i := range 1024 {
		nc := rawPeer(t, a.Collect, "PUSH")
		if i%2 == 0 {
			nc.Write([]byte{0x01, 0x89}) // a meta frame that never comes
		}
	}
	for range 64 {
		rawPeer(t, a.stream, "SUB")
	}
	a.request(t, map[string]any{"cmd": "STATUS"}) // a new admin client
	a.checkServing(t, 10)                         // a new sender
	st := a.request(t, map[string]any{"cmd": "STATUS"})
	if n := asInt(st["connections_evicted"]); n < 1 {
		t.Errorf("connections_evicted = %d after a new sender at the limit", n)
	}
	sub := rawPeer(t, a.stream, "SUB")
	sub.Write([]byte{0x00, 0x01, 0x01}) // subscribe to everything
	for try := 0; ; try++ {
		a.checkServing(t, 1) // until the subscription has arrived, events go nowhere
		sub.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		var b [64]byte
		if _, err := sub.Read(b[:]); err == nil {
			break
		} else if try == 20 {
			t.Fatalf("a new subscriber at the limit got nothing: %v", err)
		}
	}
}

// linkPeer is a hand-made link client: a ZMTP DEALER that writes frames as it likes.
func linkPeer(t *testing.T, addr string) *zmtp.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	zc, err := zmtp.Handshake(nc, "DEALER", 5*time.Second)
	if err != nil {
		t.Fatalf("handshake with the link: %v", err)
	}
	return zc
}

// TestAttackDeflateBombsOnTheLinkPort sends batches of a few KiB that inflate to
// the 64 MiB payload limit, with and without a HELLO, from 8 connections at once,
// 3 rounds; and floods of empty frames. oxd stays within its bound and serves a real
// forwarder's events afterwards.
func TestAttackDeflateBombsOnTheLinkPort(t *testing.T) {
	linkAddr := freeAddr(t)
	a := startAttacked(t, "--link", linkAddr)
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zw.Write(make([]byte, fwdlink.MaxPayload))
	zw.Close()
	bomb := fwdlink.AppendFrame(nil, fwdlink.Frame{Type: fwdlink.TypeBatch, Flags: fwdlink.FlagDeflate, ID: "bomb", Seq: 1, Count: 1, Payload: buf.Bytes()})
	hello := fwdlink.AppendFrame(nil, fwdlink.Frame{Type: fwdlink.TypeHello, ID: "bomb"})
	t.Logf("bomb: %d bytes on the wire, %d inflated", len(bomb), fwdlink.MaxPayload)
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 8 {
			zc := linkPeer(t, linkAddr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					zc.WriteMsg(hello)
				}
				zc.WriteMsg(bomb)
				zc.Flush()
				zc.SetReadDeadline(time.Now().Add(20 * time.Second))
				for {
					if _, err := zc.ReadMsg(nil, 1<<16, nil); err != nil {
						return // the receiver answers with an error and closes
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("round %d", round)
	}
	flood := bytes.Repeat([]byte{0x01, 0x00}, 1<<20)
	for range 4 {
		zc := linkPeer(t, linkAddr)
		_ = zc
	}
	nc, err := net.Dial("tcp", linkAddr)
	if err == nil {
		zmtp.Handshake(nc, "DEALER", 5*time.Second)
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		nc.Write(flood)
		nc.Close()
	}
	st := a.request(t, map[string]any{"cmd": "STATUS"})
	link, _ := st["link"].(map[string]any)
	t.Logf("link status after the bombs: %v", link)
	if asInt(link["events"]) != 0 {
		t.Errorf("events delivered from bombs: %v", link)
	}
	a.checkServing(t, 10)
}

// TestAttackHalfSentMaximalMessages: 1000 connections each send half of a
// maximum-size (16 MiB) message and hold it. What oxd holds for them is bounded by
// the collection port's shared budget for incomplete messages, not by the number
// of connections.
func TestAttackHalfSentMaximalMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 connections, up to 8 GiB offered")
	}
	a := startAttacked(t)
	meta, _ := testEvent(t, "good", 0)
	var head []byte
	head = append(head, 0x01, byte(len(meta)))
	head = append(head, meta...)
	head = append(head, 0x02)
	head = binary.BigEndian.AppendUint64(head, 16<<20-uint64(len(meta)))
	half := make([]byte, 8<<20)
	half[0], half[1], half[2] = 0xde, 0xff, 0xff
	var wg sync.WaitGroup
	var wrote atomic.Int64
	for range 1000 {
		nc := rawPeer(t, a.Collect, "PUSH")
		nc.(*net.TCPConn).SetWriteBuffer(64 << 10) // keep the kernel's share small
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := nc.Write(head); err != nil {
				return
			}
			n, _ := nc.Write(half)
			wrote.Add(int64(n))
		}()
	}
	wg.Wait() // every write done, refused (busy) or timed out; connections held
	peak := a.checkRSS(t)
	t.Logf("1000 connections offered half a 16 MiB message each: %d MiB taken by oxd's sockets, peak RSS %.1f MiB, dropped busy %d",
		wrote.Load()>>20, float64(peak)/(1<<20), a.dropped(t, "busy"))
	a.checkServing(t, 10)
}
