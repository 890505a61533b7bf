package main

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/blueox/ox/oxd/internal/zmtp"
)

// The copy ceiling's handshake satisfies a real PUSH peer and reads nothing
// past it: what the peer sends next is exactly what the copy sees, framing
// included.
func TestPullHandshakeLeavesTheStreamUntouched(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sent := make(chan error, 1)
	go func() {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer nc.Close()
		zc, err := zmtp.Handshake(nc, "PUSH", 5*time.Second)
		if err != nil {
			sent <- err
			return
		}
		if err := zc.WriteMsg([]byte("meta"), bytes.Repeat([]byte("d"), 300)); err != nil {
			sent <- err
			return
		}
		sent <- zc.Flush()
		nc.(*net.TCPConn).CloseWrite()
	}()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := pullHandshake(nc); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("PUSH side: %v", err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got bytes.Buffer
	if _, err := got.ReadFrom(nc); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x01, 4}, "meta"...)
	want = append(want, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2c)
	want = append(want, bytes.Repeat([]byte("d"), 300)...)
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("copied\n%x\nwant\n%x", got.Bytes(), want)
	}
}
