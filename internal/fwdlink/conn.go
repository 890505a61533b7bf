package fwdlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/blueox/ox/internal/membudget"
	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// The link runs over single TCP connections that this package dials and accepts
// itself, with the ZMTP 3.0 handshake and framing done by zmq4.Open on each one: a
// zmq4 socket's Dial blocks or fails while the peer is down and its sockets do not
// reliably notice a dead peer, while an explicit connection gives deadlines and a
// clean "this connection is gone" signal. On the wire it is ordinary ZeroMQ: a libzmq
// DEALER can talk to a Receiver, and a Forwarder to a libzmq ROUTER.

// errFrameTooLarge is returned when a peer announces a ZMTP frame or message larger
// than the limit, or a message of more than maxFrames frames.
var errFrameTooLarge = errors.New("fwdlink: ZMTP message too large")

// maxFrames bounds the frames of one ZMTP message on the link: link messages are
// one frame (two with a ROUTER's identity); a run of empty frames would otherwise
// cost zmq4 a slice header per two bytes received.
const maxFrames = 16

// maxCommand bounds a ZMTP command frame (READY, PING, ERROR): they are small.
const maxCommand = 16 << 10

// guardConn stands between zmq4 and the connection. zmq4 trusts the 64-bit length
// of a frame header and allocates that many bytes before reading any of them, and
// it keeps every frame of a message however many there are. guardConn therefore
// passes zmq4 a frame only once all of its bytes have arrived, in a buffer of its
// own that grows with the bytes received (not with the length announced), and
// fails the read when a header announces more than max bytes for a frame or a
// message, or when a message has more than maxFrames frames.
type guardConn struct {
	net.Conn
	max    uint64
	greet  int    // greeting bytes still to pass
	buf    []byte // bytes read and not yet passed to zmq4
	off    int    // buf[off:ready] may be passed: greeting bytes and whole frames
	ready  int
	frames int    // frames of the message being received
	total  uint64 // its bytes so far
	err    error

	// budget, when set, is shared by connections: buffer memory past
	// guardChunk is reserved from it, and given back once zmq4 has taken the
	// frames and asked for more (it has then handled the message).
	budget *membudget.Budget
	held   int64
}

// guardChunk is how much guardConn reads at once, and the least it grows by.
const guardChunk = 32 << 10

func newGuardConn(c net.Conn, max uint64) *guardConn {
	return &guardConn{Conn: c, max: max, greet: 64}
}

func (g *guardConn) Read(p []byte) (int, error) {
	for g.ready == g.off {
		if g.err != nil {
			return 0, g.err
		}
		if g.off == len(g.buf) {
			// Everything passed: start over at the buffer's beginning, and let
			// a large frame's memory go.
			g.off, g.ready, g.buf = 0, 0, g.buf[:0]
			if cap(g.buf) > 4*guardChunk {
				g.buf = nil
			}
			g.budget.Give(g.held)
			g.held = 0
		}
		need, err := g.scan()
		if err != nil {
			g.err = err
			return 0, err
		}
		if g.ready > g.off {
			break
		}
		// Read more: at most what the current frame still needs (at least a
		// chunk), so the buffer follows the bytes that actually arrive.
		want := max(need, guardChunk)
		if free := cap(g.buf) - len(g.buf); free < guardChunk && free < want {
			grow := min(max(cap(g.buf), guardChunk), want)
			if over := int64(len(g.buf)-g.off+grow) - guardChunk - g.held; over > 0 && g.budget != nil {
				if !g.budget.Take(over, budgetWait) {
					g.err = fmt.Errorf("%w: no memory for a large frame in time", errBusy)
					return 0, g.err
				}
				g.held += over
			}
			nb := make([]byte, len(g.buf)-g.off, len(g.buf)-g.off+grow)
			copy(nb, g.buf[g.off:])
			g.ready -= g.off
			g.off = 0
			g.buf = nb
		}
		end := min(cap(g.buf), len(g.buf)+want)
		n, rerr := g.Conn.Read(g.buf[len(g.buf):end])
		g.buf = g.buf[:len(g.buf)+n]
		if rerr != nil {
			g.err = rerr
		}
	}
	n := copy(p, g.buf[g.off:g.ready])
	g.off += n
	return n, nil
}

// scan moves ready past the greeting bytes and whole frames in buf, checking each
// frame header. need is how many more bytes the next frame needs (0 if unknown).
func (g *guardConn) scan() (need int, err error) {
	for {
		b := g.buf[g.ready:]
		if g.greet > 0 {
			k := min(g.greet, len(b))
			g.greet -= k
			g.ready += k
			if g.greet > 0 {
				return 0, nil
			}
			continue
		}
		if len(b) < 2 || (b[0]&0x02 != 0 && len(b) < 9) {
			return 0, nil
		}
		hlen, size := 2, uint64(b[1])
		if b[0]&0x02 != 0 {
			hlen, size = 9, binary.BigEndian.Uint64(b[1:9])
		}
		if b[0]&0x04 == 0 { // a message frame, not a command
			if g.frames == 0 {
				g.total = 0
			}
			if g.frames+1 > maxFrames {
				return 0, fmt.Errorf("%w: more than %d frames in a message", errFrameTooLarge, maxFrames)
			}
			if size > g.max || size > g.max-g.total {
				return 0, fmt.Errorf("%w: %d bytes announced, limit %d", errFrameTooLarge, size, g.max)
			}
		} else if size > maxCommand {
			return 0, fmt.Errorf("%w: command of %d bytes", errFrameTooLarge, size)
		}
		if uint64(len(b)-hlen) < size {
			return int(size - uint64(len(b)-hlen)), nil
		}
		if b[0]&0x04 == 0 {
			g.frames++
			g.total += size
			if b[0]&0x01 == 0 {
				g.frames = 0
			}
		}
		g.ready += hlen + int(size)
	}
}

// link is one open connection, on either side.
type link struct {
	g    *guardConn
	raw  net.Conn
	zc   *zmq4.Conn
	wbuf []byte
}

// maxMessage bounds one ZMTP message on the link: a maximal payload plus its header.
const maxMessage = MaxPayload + 1024

// openLink performs the ZMTP handshake on c within timeout. Frames being received
// reserve their memory from b (nil: no shared bound).
func openLink(c net.Conn, typ zmq4.SocketType, server bool, timeout time.Duration, b ...*membudget.Budget) (*link, error) {
	g := newGuardConn(c, maxMessage)
	if len(b) > 0 {
		g.budget = b[0]
	}
	c.SetDeadline(time.Now().Add(timeout))
	zc, err := zmq4.Open(g, null.Security(), typ, nil, server, nil)
	if err != nil {
		c.Close()
		g.budget.Give(g.held)
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return &link{raw: c, zc: zc, g: g}, nil
}

// send writes one frame with a write deadline.
func (l *link) send(f Frame, timeout time.Duration) error {
	l.wbuf = AppendFrame(l.wbuf[:0], f)
	l.raw.SetWriteDeadline(time.Now().Add(timeout))
	return l.zc.SendMsg(zmq4.NewMsg(l.wbuf))
}

// recv reads the next link frame, skipping ZMTP commands (zmq4 answers PING itself).
// A zero idle means no deadline.
func (l *link) recv(idle time.Duration) (Frame, error) {
	for {
		if idle > 0 {
			l.raw.SetReadDeadline(time.Now().Add(idle))
		}
		msg, err := l.zc.RecvMsg()
		if err != nil {
			return Frame{}, err
		}
		if msg.Type == zmq4.CmdMsg {
			continue
		}
		if len(msg.Frames) != 1 {
			return Frame{}, fmt.Errorf("%w: %d message parts", ErrFrame, len(msg.Frames))
		}
		return DecodeFrame(msg.Frames[0])
	}
}

func (l *link) close() error { return l.raw.Close() }

// release gives back what the connection's guard holds of its budget; call it from
// the goroutine that reads, once it reads no more.
func (l *link) release() {
	l.g.budget.Give(l.g.held)
	l.g.held = 0
}
