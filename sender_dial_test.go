package ox

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// A Sender with a Dial option speaks ZMTP over whatever connection Dial returns
// (here a TCP connection to a collector at another address than the Sender's).
func TestSenderDialOptionCarriesFramesOverTheGivenConnection(t *testing.T) {
	real := localAddr(t)
	col := startCollector(t, real)
	var dials atomic.Int32
	s := NewSender("somewhere-else", &SenderOptions{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		if addr != "somewhere-else" {
			t.Errorf("Dial got address %q, want %q", addr, "somewhere-else")
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", real)
	}})
	for i := 0; i < 3; i++ {
		meta, data := testEvent(t, i)
		if !s.TrySend(meta, data) {
			t.Fatalf("TrySend %d refused", i)
		}
	}
	for i, m := range col.receive(t, 3) {
		meta, data := testEvent(t, i)
		if !bytes.Equal(m.Frames[0], meta) || !bytes.Equal(m.Frames[1], data) {
			t.Fatalf("event %d arrived changed", i)
		}
	}
	if err := closeSender(t, s); err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("Dial called %d times, want 1", n)
	}
}

// A failing Dial is reported with the address and retried like a refused TCP
// connection; nothing panics and Close gives up on what is queued.
func TestSenderDialOptionFailureIsReportedAndRetried(t *testing.T) {
	errs := make(chan error, 100)
	s := NewSender("nowhere", &SenderOptions{
		MaxBackoff: 30e6,
		OnError:    func(err error) { errs <- err },
		Dial: func(context.Context, string) (net.Conn, error) {
			return nil, errors.New("no route")
		},
	})
	for i := 0; i < 2; i++ {
		if err := <-errs; err.Error() != "ox: connect to collector nowhere: no route" {
			t.Fatalf("error %d = %q", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Close(ctx)
}

// A Sender dialing a Unix socket keeps the graceful close: Close half-closes and
// returns only once the collector, a slow one here, has read every event and
// closed its side.
func TestSenderDialOptionUnixSocketClosesGracefully(t *testing.T) {
	path := t.TempDir() + "/collect.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("no Unix sockets here: %v", err)
	}
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer nc.Close()
		zc, err := zmq4.Open(nc, null.Security(), zmq4.Pull, nil, true, nil)
		if err != nil {
			got <- -1
			return
		}
		time.Sleep(50 * time.Millisecond) // a collector slow to read
		n := 0
		for {
			if _, err := zc.RecvMsg(); err != nil {
				got <- n // the Sender's half-close ends the stream
				return
			}
			n++
		}
	}()
	s := NewSender("unix", &SenderOptions{Dial: func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}})
	for i := 0; i < 50; i++ {
		meta, data := testEvent(t, i)
		s.TrySend(meta, data)
	}
	if err := closeSender(t, s); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != 50 {
			t.Errorf("collector read %d events before the end, want 50", n)
		}
	default:
		t.Fatal("Close returned before the collector had read everything")
	}
}
