package fwdlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

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
// than the limit.
var errFrameTooLarge = errors.New("fwdlink: ZMTP message too large")

// guardConn watches the ZMTP byte stream as zmq4 reads it and fails the read as soon
// as a frame header announces more than max bytes, before zmq4 allocates a buffer of
// the announced size (it trusts the 64-bit length).
type guardConn struct {
	net.Conn
	max      uint64
	greet    int // greeting bytes still to pass
	hdr      [9]byte
	hdrHave  int
	hdrNeed  int
	bodyLeft uint64
	msgTotal uint64
	more     bool
	err      error
}

func newGuardConn(c net.Conn, max uint64) *guardConn {
	return &guardConn{Conn: c, max: max, greet: 64}
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if serr := g.scan(p[:n]); serr != nil {
		g.err = serr
		return 0, serr
	}
	return n, err
}

func (g *guardConn) scan(b []byte) error {
	for len(b) > 0 {
		switch {
		case g.greet > 0:
			k := min(g.greet, len(b))
			g.greet -= k
			b = b[k:]
		case g.bodyLeft > 0:
			k := min(g.bodyLeft, uint64(len(b)))
			g.bodyLeft -= k
			b = b[k:]
		case g.hdrHave == 0:
			g.hdr[0] = b[0]
			g.hdrHave = 1
			g.hdrNeed = 2
			if b[0]&0x02 != 0 { // long frame: 8-byte size
				g.hdrNeed = 9
			}
			b = b[1:]
		default:
			k := copy(g.hdr[g.hdrHave:g.hdrNeed], b)
			g.hdrHave += k
			b = b[k:]
			if g.hdrHave < g.hdrNeed {
				continue
			}
			size := uint64(g.hdr[1])
			if g.hdrNeed == 9 {
				size = binary.BigEndian.Uint64(g.hdr[1:9])
			}
			more := g.hdr[0]&0x01 != 0
			if !g.more {
				g.msgTotal = 0
			}
			g.msgTotal += size
			if size > g.max || g.msgTotal > g.max {
				return fmt.Errorf("%w: %d bytes announced, limit %d", errFrameTooLarge, size, g.max)
			}
			g.more = more
			g.bodyLeft = size
			g.hdrHave = 0
		}
	}
	return nil
}

// link is one open connection, on either side.
type link struct {
	raw  net.Conn
	zc   *zmq4.Conn
	wbuf []byte
}

// maxMessage bounds one ZMTP message on the link: a maximal payload plus its header.
const maxMessage = MaxPayload + 1024

// openLink performs the ZMTP handshake on c within timeout.
func openLink(c net.Conn, typ zmq4.SocketType, server bool, timeout time.Duration) (*link, error) {
	g := newGuardConn(c, maxMessage)
	c.SetDeadline(time.Now().Add(timeout))
	zc, err := zmq4.Open(g, null.Security(), typ, nil, server, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return &link{raw: c, zc: zc}, nil
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
