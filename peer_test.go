package ox

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// fakePeer is a connection whose peer sent in: what the client writes is kept.
type fakePeer struct {
	io.Reader
	wrote bytes.Buffer
}

func (p *fakePeer) Write(b []byte) (int, error) { return p.wrote.Write(b) }

// peerBytes is what a ZMTP 3.0 peer of socket type typ sends in a NULL
// handshake: its greeting and READY.
func peerBytes(typ string) []byte {
	return appendReady(append([]byte(nil), zmtpGreeting...), typ)
}

// longReady is a READY with the long size form, as a peer may send it.
func longReady(typ string) []byte {
	short := appendReady(nil, typ)
	b := append([]byte(nil), zmtpGreeting...)
	b = append(b, 0x06, 0, 0, 0, 0, 0, 0, 0, short[1])
	return append(b, short[2:]...)
}

func TestZMTPHandshakeLearnsThePeersSocketType(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr string
	}{
		{"a PULL peer", peerBytes("PULL"), "PULL", ""},
		{"a REP peer", peerBytes("REP"), "REP", ""},
		{"a READY with a long size", longReady("ROUTER"), "ROUTER", ""},
		{"an HTTP server", []byte("HTTP/1.1 400 Bad Request\r\n\r\n" + strings.Repeat(" ", 64)), "", "no ZMTP signature"},
		{"a short greeting", zmtpGreeting[:20], "", "short greeting"},
		{"ZMTP 2", func() []byte { b := peerBytes("PULL"); b[10] = 2; return b }(), "", "version 2"},
		{"CURVE security", func() []byte { b := peerBytes("PULL"); copy(b[12:], "CURVE"); return b }(), "", "mechanism"},
		{"a message where READY is due", append(append([]byte(nil), zmtpGreeting...), 0x00, 1, 'x'), "", "where a command was due"},
		{"a huge command", append(append([]byte(nil), zmtpGreeting...), 0x06, 0xff, 0, 0, 0, 0, 0, 0, 0), "", "READY was due"},
		{"a property longer than the command", append(append([]byte(nil), zmtpGreeting...), 0x04, 13, 5, 'R', 'E', 'A', 'D', 'Y', 1, 'S', 0, 0, 0, 9, 'x'), "", "malformed READY property"},
		{"no Socket-Type", append(append([]byte(nil), zmtpGreeting...), 0x04, 6, 5, 'R', 'E', 'A', 'D', 'Y'), "", "without a Socket-Type"},
		{"another command", append(append([]byte(nil), zmtpGreeting...), 0x04, 6, 5, 'E', 'R', 'R', 'O', 'R'), "", "not READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePeer{Reader: bytes.NewReader(tc.in)}
			got, err := zmtpHandshake(p, "PUSH")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if want := peerBytes("PUSH"); !bytes.Equal(p.wrote.Bytes(), want) {
				t.Errorf("sent %x, want greeting and READY %x", p.wrote.Bytes(), want)
			}
		})
	}
}

func TestCheckPeerNamesBothPorts(t *testing.T) {
	tests := []struct {
		name, ours, peer, want string
	}{
		{"REQ at the collection port", "REQ", "PULL",
			"h:3514 is a collector's collection port (ZeroMQ PULL); this needs a collector's control port (3513 by default)"},
		{"REQ at the link port", "REQ", "ROUTER",
			"h:3514 is a collector's forwarding link port, --link (ZeroMQ ROUTER); this needs a collector's control port (3513 by default)"},
		{"PUSH at the control port", "PUSH", "REP",
			"h:3514 is a collector's control port (ZeroMQ REP); this needs a collector's collection port (3514 by default)"},
		{"PUSH at the stream port", "PUSH", "PUB",
			"h:3514 is a collector's live stream port (ZeroMQ PUB); this needs a collector's collection port (3514 by default)"},
		{"PUSH at something else", "PUSH", "PAIR",
			`h:3514 is a ZeroMQ "PAIR" socket, not a collector port this tool uses; this needs a collector's collection port (3514 by default)`},
		{"REQ at a control port is right", "REQ", "REP", ""},
		{"PUSH at a collection port is right", "PUSH", "PULL", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPeer("h:3514", tc.ours, tc.peer)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var wrong *WrongPortError
			if !errors.As(err, &wrong) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzZMTPHandshake: whatever a peer sends, the handshake returns a socket
// type it sent or an error, without panicking or reading past its bound.
func FuzzZMTPHandshake(f *testing.F) {
	f.Add(peerBytes("PULL"))
	f.Add(longReady("REP"))
	f.Add(zmtpGreeting)
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, err := zmtpHandshake(&fakePeer{Reader: bytes.NewReader(in)}, "REQ")
		if err != nil {
			return
		}
		if typ == "" || !bytes.Contains(in, []byte(typ)) {
			t.Fatalf("socket type %q is not in the peer's bytes", typ)
		}
	})
}
