package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// accept returns a listener and a channel delivering handshaken connections.
func accept(t *testing.T, typ string) (string, <-chan *Conn, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns := make(chan *Conn, 4)
	errs := make(chan error, 4)
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			c, err := Handshake(nc, typ, 2*time.Second)
			if err != nil {
				nc.Close()
				errs <- err
				continue
			}
			conns <- c
		}
	}()
	return l.Addr().String(), conns, errs
}

var quiet = zmq4.WithLogger(log.New(io.Discard, "", 0))

func TestPullReceivesFromZmq4Push(t *testing.T) {
	addr, conns, _ := accept(t, "PULL")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	push := zmq4.NewPush(ctx, quiet)
	defer push.Close()
	if err := push.Dial("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 300)
	for i := range 3 {
		if err := push.Send(zmq4.NewMsgFrom([]byte{byte(i)}, long)); err != nil {
			t.Fatal(err)
		}
	}
	c := <-conns
	defer c.Close()
	for i := range 3 {
		m, err := c.ReadMsg(nil, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 2 || m.Frames[0][0] != byte(i) || len(m.Frames[1]) != 300 {
			t.Fatalf("message %d: got %d frames", i, len(m.Frames))
		}
	}
}

func TestReadMsgSkipsMessagesOverTheLimit(t *testing.T) {
	addr, conns, _ := accept(t, "PULL")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	push := zmq4.NewPush(ctx, quiet)
	defer push.Close()
	if err := push.Dial("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	_ = push.Send(zmq4.NewMsgFrom([]byte("a"), make([]byte, 5000)))
	_ = push.Send(zmq4.NewMsgFrom([]byte("b"), []byte("ok")))
	c := <-conns
	defer c.Close()
	if _, err := c.ReadMsg(nil, 1000, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	m, err := c.ReadMsg(nil, 1000, nil)
	if err != nil || string(m.Frames[1]) != "ok" {
		t.Fatalf("next message: %v %q", err, m.Frames)
	}
}

// rawPeer dials addr and completes a handshake as typ by hand, so a test can then
// write arbitrary bytes.
func rawPeer(t *testing.T, addr, typ string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c, err := Handshake(nc, typ, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	return nc
}

func TestHostileFrameSizeDoesNotAllocate(t *testing.T) {
	addr, conns, _ := accept(t, "PULL")
	nc := rawPeer(t, addr, "PUSH")
	// A long frame announcing 2^62 bytes, then the connection ends.
	hdr := []byte{flagLong, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(hdr[1:], 1<<62)
	if _, err := nc.Write(hdr); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	c := <-conns
	_, err := c.ReadMsg(nil, 1<<20, nil)
	if err == nil {
		t.Fatal("no error for a 2^62-byte frame")
	}
}

func TestHandshakeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"garbage greeting", []byte("GET / HTTP/1.0\r\n\r\n" + string(make([]byte, 64)))},
		{"huge READY", func() []byte {
			g := make([]byte, 64)
			g[0], g[9], g[10] = 0xff, 0x7f, 3
			copy(g[12:], "NULL")
			return append(g, flagCommand|flagLong, 0x10, 0, 0, 0, 0, 0, 0, 0)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _, errs := accept(t, "PULL")
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write(tc.send)
			select {
			case err := <-errs:
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("got %v, want a protocol error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handshake did not fail")
			}
		})
	}
}

func TestPubToZmq4Sub(t *testing.T) {
	addr, conns, _ := accept(t, "PUB")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := zmq4.NewSub(ctx, quiet)
	defer sub.Close()
	if err := sub.Dial("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, "req"); err != nil {
		t.Fatal(err)
	}
	c := <-conns
	defer c.Close()
	m, err := c.ReadMsg(nil, 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix, on, ok := Subscription(m)
	if !ok || !on || prefix != "req" {
		t.Fatalf("subscription = %q %v %v", prefix, on, ok)
	}
	if err := c.WriteMsg([]byte("request"), []byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := sub.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Frames) != 2 || string(got.Frames[1]) != "data" {
		t.Fatalf("got %q", got.Frames)
	}
}

func TestPingGetsAPong(t *testing.T) {
	addr, conns, _ := accept(t, "PULL")
	nc := rawPeer(t, addr, "PUSH")
	c := <-conns
	defer c.Close()
	// PING with TTL 0 and context "ctx", then a one-frame message.
	nc.Write([]byte{flagCommand, 10, 4, 'P', 'I', 'N', 'G', 0, 0, 'c', 't', 'x', 0x00, 1, 'm'})
	m, err := c.ReadMsg(nil, 1024, nil)
	if err != nil || len(m.Frames) != 1 || string(m.Frames[0]) != "m" {
		t.Fatalf("message after PING: %v %q", err, m.Frames)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	pong := make([]byte, 2+1+4+3)
	if _, err := io.ReadFull(nc, pong); err != nil {
		t.Fatal(err)
	}
	if string(pong[3:7]) != "PONG" || string(pong[7:]) != "ctx" {
		t.Fatalf("pong %q", pong)
	}
}

// TestWriteTopicMsgsFramesEveryMessage sends, in one call, more messages than one
// writev takes, small frames (copied) and large ones (pointed at) mixed, after a
// message WriteMsg buffered, and reads them back with ReadMsg.
func TestWriteTopicMsgsFramesEveryMessage(t *testing.T) {
	addr, conns, _ := accept(t, "PUB")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := Handshake(nc, "SUB", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := <-conns
	defer c.Close()
	if err := c.WriteMsg([]byte("first"), []byte("buffered")); err != nil {
		t.Fatal(err)
	}
	var msgs []TopicMsg
	for i := range 3000 {
		size := []int{0, 1, 255, 256, copyBelow - 1, copyBelow, 5000}[i%7]
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		msgs = append(msgs, TopicMsg{Topic: []string{"a", "request.db"}[i%2], Data: data})
	}
	errc := make(chan error, 1)
	go func() { errc <- c.WriteTopicMsgs(msgs) }()
	want := append([]TopicMsg{{Topic: "first", Data: []byte("buffered")}}, msgs...)
	for i, w := range want {
		m, err := sub.ReadMsg(nil, 1<<20, nil)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(m.Frames) != 2 || string(m.Frames[0]) != w.Topic || !bytes.Equal(m.Frames[1], w.Data) {
			t.Fatalf("message %d: got %d frames, topic %q, %d bytes; want %q, %d bytes", i, len(m.Frames), m.Frames[0], len(m.Frames[len(m.Frames)-1]), w.Topic, len(w.Data))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
