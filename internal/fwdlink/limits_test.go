package fwdlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/blueox/ox/internal/membudget"
	"github.com/go-zeromq/zmq4"
)

func TestInflateBombsShareOneBudget(t *testing.T) {
	var c compressor
	bomb := c.deflate(make([]byte, 4<<20))
	b := membudget.New(6 << 20)
	out, held, err := inflate(bomb, MaxPayload, b)
	if err != nil || len(out) != 4<<20 {
		t.Fatalf("inflate: %d bytes, %v", len(out), err)
	}
	if held > 6<<20 || held < 4<<20 {
		t.Fatalf("held %d of the budget for %d bytes", held, len(out))
	}
	// A second bomb while the first is held finds no room and gives up.
	defer func(w time.Duration) { budgetWait = w }(budgetWait)
	budgetWait = 50 * time.Millisecond
	if _, _, err := inflate(bomb, MaxPayload, b); !errors.Is(err, errBusy) {
		t.Fatalf("second bomb: %v, want errBusy", err)
	}
	b.Give(held)
	if b.Used() != 0 {
		t.Fatalf("budget used %d after giving everything back", b.Used())
	}
	// Past the limit: refused, and nothing of the budget kept.
	if _, _, err := inflate(bomb, 1<<20, b); !errors.Is(err, ErrFrame) {
		t.Fatalf("over the limit: %v", err)
	}
	if b.Used() != 0 {
		t.Fatalf("budget used %d after a refused bomb", b.Used())
	}
}

// pipeConn is a net.Conn reading from a byte slice in small pieces.
type pipeConn struct {
	net.Conn
	r     io.Reader
	piece int
}

func (p *pipeConn) Read(b []byte) (int, error) {
	if len(b) > p.piece {
		b = b[:p.piece]
	}
	return p.r.Read(b)
}

func TestGuardPassesOnlyWholeFramesAndBoundsFrameCount(t *testing.T) {
	greeting := make([]byte, 64)
	frame := append([]byte{0x00, 0x05}, "hello"...)
	long := append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 100000)...)
	long = append(long, make([]byte, 100000)...)
	in := append(append(append(append([]byte{}, greeting...), frame...), long...), frame...)
	for _, piece := range []int{1, 7, 4096, 1 << 20} {
		g := newGuardConn(&pipeConn{r: bytes.NewReader(in), piece: piece}, 1<<20)
		got, err := io.ReadAll(g)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("piece %d: passed %d of %d bytes, %v", piece, len(got), len(in), err)
		}
	}
	// A frame is held back until its last byte arrives.
	g := newGuardConn(&pipeConn{r: bytes.NewReader(append(append([]byte{}, greeting...), long[:5000]...)), piece: 1 << 20}, 1<<20)
	got, _ := io.ReadAll(g)
	if len(got) != 64 {
		t.Fatalf("passed %d bytes of an incomplete frame", len(got)-64)
	}
	// An endless message of empty frames is cut off.
	flood := append(append([]byte{}, greeting...), bytes.Repeat([]byte{0x01, 0x00}, 1000)...)
	g = newGuardConn(&pipeConn{r: bytes.NewReader(flood), piece: 4096}, 1<<20)
	if _, err := io.ReadAll(g); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("empty-frame flood: %v, want errFrameTooLarge", err)
	}
	// Sizes announced past the limit, alone or summed, are refused before any read.
	for _, hdr := range [][]byte{
		append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 1<<63)...),
		append(append([]byte{0x03}, binary.BigEndian.AppendUint64(nil, 600000)...), append(make([]byte, 600000), append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 1<<64-1-599999)...)...)...),
	} {
		g = newGuardConn(&pipeConn{r: bytes.NewReader(append(append([]byte{}, greeting...), hdr...)), piece: 1 << 20}, 1<<20)
		if _, err := io.ReadAll(g); !errors.Is(err, errFrameTooLarge) {
			t.Fatalf("header %x: %v, want errFrameTooLarge", hdr[:9], err)
		}
	}
}

// FuzzGuardConn: whatever a peer sends, the guard passes a prefix of it, never more
// than the limit per message, in memory that follows the bytes received.
func FuzzGuardConn(f *testing.F) {
	greeting := make([]byte, 64)
	f.Add(append(append([]byte{}, greeting...), 0x00, 0x02, 'h', 'i'), 3)
	f.Add(append(append([]byte{}, greeting...), 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 1)
	f.Add(append(append([]byte{}, greeting...), bytes.Repeat([]byte{0x01, 0x00}, 40)...), 5)
	f.Add(append(append([]byte{}, greeting...), 0x01, 0x03, 0x30, 0x30, 0x30, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 2)
	f.Fuzz(func(t *testing.T, in []byte, piece int) {
		piece = 1 + (piece&0xffff)%4096
		const limit = 1024
		g := newGuardConn(&pipeConn{r: bytes.NewReader(in), piece: piece}, limit)
		got, _ := io.ReadAll(g)
		if !bytes.HasPrefix(in, got) {
			t.Fatal("passed bytes that were not received")
		}
		if cap(g.buf) > len(in)+2*guardChunk {
			t.Fatalf("buffer of %d bytes for %d received", cap(g.buf), len(in))
		}
	})
}

// Connections that die in the middle of large frames give their share of the
// receiver's budget back, and real forwarders are served afterwards.
func TestHalfSentLargeFramesGiveTheirMemoryBack(t *testing.T) {
	snk := newSink()
	rc := startReceiver(t, "", "", snk.deliver)
	chunk := make([]byte, 4<<20)
	for range 8 {
		a, err := net.Dial("tcp", rc.addr)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := openLink(a, zmq4.Dealer, false, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		hdr := append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 32<<20)...)
		a.SetWriteDeadline(time.Now().Add(10 * time.Second))
		cl.raw.Write(hdr)
		cl.raw.Write(chunk)
		a.Close()
	}
	waitFor(t, "the budget given back", func() bool {
		return rc.r.recvd.Used() == 0 && rc.r.Stats().Connections == 0
	})
	sp := openSpool(t, t.TempDir())
	startForwarder(t, sp, ForwarderOptions{Targets: []string{rc.addr}})
	spoolEvents(t, sp, 0, 100)
	waitFor(t, "events after the half-sent frames", func() bool { return snk.count() == 100 })
}
