package ox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// This file holds ox's own ZMTP 3.0 handshake (NULL mechanism), so a client
// learns the socket type of the peer it reached and can say, in a collector's
// terms, that it dialed the wrong port: the collection port where it wanted
// the control port, and so on.

// WrongPortError says that the address a client reached is a collector port
// of another kind than the one it needs, e.g. oxctl given the collection port.
// Tools stop on it (retrying cannot help) and show its message as it is.
type WrongPortError struct {
	// Addr is the address dialed, host:port.
	Addr string
	// Peer is the ZeroMQ socket type that answered there, e.g. "PULL".
	Peer string
	// Want is the socket type the client needs, e.g. "REP".
	Want string
}

// Error names the port reached and the port wanted with its default number,
// e.g. "127.0.0.1:3514 is a collection port (ZeroMQ PULL); this needs a
// collector's control port (3513 by default)".
func (e *WrongPortError) Error() string {
	return fmt.Sprintf("%s is %s; this needs a collector's %s", e.Addr, portRole(e.Peer), portWanted(e.Want))
}

// portRole says what kind of port a peer of socket type t is.
func portRole(t string) string {
	switch t {
	case "REP":
		return "a collector's control port (ZeroMQ REP)"
	case "PULL":
		return "a collector's collection port (ZeroMQ PULL)"
	case "PUB":
		return "a collector's live stream port (ZeroMQ PUB)"
	case "ROUTER":
		return "a collector's forwarding link port, --link (ZeroMQ ROUTER)"
	}
	return "a ZeroMQ " + strconv.Quote(t) + " socket, not a collector port this tool uses"
}

// portWanted names the port a client of socket type peer t needs.
func portWanted(t string) string {
	switch t {
	case "REP":
		return "control port (" + strconv.Itoa(DefaultControlPort) + " by default)"
	case "PULL":
		return "collection port (" + strconv.Itoa(DefaultCollectPort) + " by default)"
	case "PUB":
		return "live stream port (the control port tells it)"
	case "ROUTER":
		return "forwarding link port (--link, 3515 by default)"
	}
	return t + " port"
}

// zmtpMaxReady bounds the READY command a peer may send: a socket type and an
// identity fit in far less.
const zmtpMaxReady = 4096

// errNotZMTP is wrapped when the peer does not speak ZMTP 3 with NULL security.
var errNotZMTP = errors.New("the peer does not speak ZeroMQ (ZMTP 3.0, NULL security)")

// zmtpGreeting is the 64-byte ZMTP 3.0 greeting of a client with the NULL
// mechanism: signature, version 3.0, mechanism, as-server 0, filler.
var zmtpGreeting = func() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], "NULL")
	return g
}()

// zmtpHandshake runs the client side of a ZMTP 3.0 NULL handshake on conn as a
// socket of type ours and returns the peer's socket type. It does not judge
// compatibility (see checkPeer). conn's deadline bounds it.
func zmtpHandshake(conn io.ReadWriter, ours string) (string, error) {
	ready := appendReady(nil, ours)
	// Both sides write first and then read (the peer's greeting does not wait
	// for ours), so one write of greeting and READY cannot dead-lock.
	if _, err := conn.Write(append(append([]byte(nil), zmtpGreeting...), ready...)); err != nil {
		return "", err
	}
	var g [64]byte
	if _, err := io.ReadFull(conn, g[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("%w: short greeting", errNotZMTP)
		}
		return "", err
	}
	if err := checkGreeting(g[:]); err != nil {
		return "", err
	}
	var hdr [9]byte // flags, then a 1-byte or 8-byte size
	if _, err := io.ReadFull(conn, hdr[:2]); err != nil {
		return "", fmt.Errorf("reading the peer's READY: %w", err)
	}
	var size uint64
	switch hdr[0] {
	case 0x04: // command, short size
		size = uint64(hdr[1])
	case 0x06: // command, long size
		if _, err := io.ReadFull(conn, hdr[2:9]); err != nil {
			return "", fmt.Errorf("reading the peer's READY: %w", err)
		}
		size = binary.BigEndian.Uint64(hdr[1:9])
	default:
		return "", fmt.Errorf("%w: flags %#x where a command was due", errNotZMTP, hdr[0])
	}
	if size > zmtpMaxReady {
		return "", fmt.Errorf("%w: a %d-byte command where READY was due", errNotZMTP, size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(conn, body); err != nil {
		return "", fmt.Errorf("reading the peer's READY: %w", err)
	}
	return parseReady(body)
}

// checkGreeting checks a peer's 64-byte greeting: ZMTP signature, major
// version 3 or later, NULL mechanism.
func checkGreeting(g []byte) error {
	if g[0] != 0xff || g[9] != 0x7f {
		return fmt.Errorf("%w: no ZMTP signature", errNotZMTP)
	}
	if g[10] < 3 {
		return fmt.Errorf("%w: ZMTP version %d.%d", errNotZMTP, g[10], g[11])
	}
	if mech := string(bytes.TrimRight(g[12:32], "\x00")); mech != "NULL" {
		return fmt.Errorf("%w: security mechanism %q", errNotZMTP, mech)
	}
	return nil
}

// appendReady appends a READY command (short form) carrying Socket-Type.
func appendReady(dst []byte, sockType string) []byte {
	body := append([]byte{5}, "READY"...)
	body = appendProperty(body, "Socket-Type", sockType)
	body = appendProperty(body, "Identity", "")
	dst = append(dst, 0x04, byte(len(body)))
	return append(dst, body...)
}

func appendProperty(dst []byte, name, value string) []byte {
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// parseReady returns the Socket-Type property of a READY command body (the
// peer's bytes: every length is checked against what is left).
func parseReady(b []byte) (string, error) {
	if len(b) < 6 || b[0] != 5 || string(b[1:6]) != "READY" {
		return "", fmt.Errorf("%w: the peer's first command is not READY", errNotZMTP)
	}
	b = b[6:]
	sockType := ""
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n+4 {
			return "", fmt.Errorf("%w: malformed READY property", errNotZMTP)
		}
		name := string(b[1 : 1+n])
		vlen := binary.BigEndian.Uint32(b[1+n:])
		b = b[1+n+4:]
		if uint64(vlen) > uint64(len(b)) {
			return "", fmt.Errorf("%w: malformed READY property %q", errNotZMTP, name)
		}
		if equalFoldASCII(name, "Socket-Type") {
			sockType = string(b[:vlen])
		}
		b = b[vlen:]
	}
	if sockType == "" {
		return "", fmt.Errorf("%w: READY without a Socket-Type", errNotZMTP)
	}
	return sockType, nil
}

// equalFoldASCII compares property names case-insensitively, as ZMTP asks.
func equalFoldASCII(a, b string) bool {
	return len(a) == len(b) && bytes.EqualFold([]byte(a), []byte(b))
}

// checkPeer returns a *WrongPortError when a client of socket type ours
// reached a peer of socket type peer it cannot talk to (for REQ, only REP: a
// collector's control port; ROUTER is oxd's link port).
func checkPeer(addr, ours, peer string) error {
	want := map[string]string{"REQ": "REP", "PUSH": "PULL", "SUB": "PUB", "DEALER": "ROUTER"}[ours]
	if peer == want {
		return nil
	}
	return &WrongPortError{Addr: addr, Peer: peer, Want: want}
}

// probeDelay bounds probePeer.
const probeDelay = 2 * time.Second

// probePeer connects to addr, runs the handshake as ours, and returns a
// *WrongPortError when the peer is a collector port of another kind; nil when
// it is the right kind, or when it cannot tell (the caller's own error then
// stands).
func probePeer(ctx context.Context, addr, ours string) error {
	ctx, cancel := context.WithTimeout(ctx, probeDelay)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	peer, err := zmtpHandshake(conn, ours)
	if err != nil {
		return nil
	}
	return checkPeer(addr, ours, peer)
}
