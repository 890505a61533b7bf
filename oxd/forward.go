package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/blueox/ox/oxd/internal/zmtp"
)

// forwarder passes every good event on to another collector. The collection loop
// calls Forward for each event in order; Forward must never block. Implementations:
// pushForwarder (plain PUSH, the original's mode; an original oxd accepts it) and,
// later, spooled acknowledged forwarding.
type forwarder interface {
	// Forward queues the two frames, unchanged. False means the event was dropped
	// (counted by the forwarder).
	Forward(meta, data []byte) bool
	// Stats returns counters for STATUS, under the key "forward".
	Stats() map[string]any
	// Close sends what is queued until ctx ends, then reports what was lost.
	Close(ctx context.Context) error
}

// pushForwarder PUSHes events to the next collector over one ZMTP connection it
// manages itself: it dials in the background, reconnects with backoff, and holds
// events in a queue bounded in bytes while the peer is away. Events past the bound
// are dropped and counted. What is in flight when a connection breaks is lost, as
// with any ZeroMQ PUSH: this mode promises no more than the original did.
type pushForwarder struct {
	addr     string
	maxBytes int64
	log      *slog.Logger

	q      chan [2][]byte
	bytes  atomic.Int64
	closed atomic.Bool
	stop   chan struct{} // closed by Close: drain, then exit
	abort  chan struct{} // closed when Close's ctx ends: exit now
	done   chan struct{}

	sent, dropped, reconnects atomic.Uint64
	connected                 atomic.Bool
	lastErr                   atomic.Pointer[string]
}

func newPushForwarder(addr string, maxBytes int64, log *slog.Logger) *pushForwarder {
	f := &pushForwarder{
		addr: addr, maxBytes: maxBytes, log: log,
		q:    make(chan [2][]byte, 1<<16),
		stop: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{}),
	}
	go f.run()
	return f
}

func (f *pushForwarder) Forward(meta, data []byte) bool {
	n := int64(len(meta) + len(data))
	if f.closed.Load() || f.bytes.Load()+n > f.maxBytes {
		f.dropped.Add(1)
		return false
	}
	select {
	case f.q <- [2][]byte{meta, data}:
		f.bytes.Add(n)
		return true
	default:
		f.dropped.Add(1)
		return false
	}
}

func (f *pushForwarder) Stats() map[string]any {
	m := map[string]any{
		"mode":        "push",
		"target":      f.addr,
		"connected":   f.connected.Load(),
		"queued":      len(f.q),
		"queue_bytes": f.bytes.Load(),
		"max_bytes":   f.maxBytes,
		"sent":        f.sent.Load(),
		"dropped":     f.dropped.Load(),
		"reconnects":  f.reconnects.Load(),
	}
	if e := f.lastErr.Load(); e != nil {
		m["last_error"] = *e
	}
	return m
}

func (f *pushForwarder) Close(ctx context.Context) error {
	f.closed.Store(true)
	close(f.stop)
	select {
	case <-f.done:
	case <-ctx.Done():
		close(f.abort)
		<-f.done
	}
	if lost := len(f.q); lost > 0 {
		return fmt.Errorf("oxd: forward to %s: %d events not sent at exit", f.addr, lost)
	}
	return nil
}

func (f *pushForwarder) setErr(err error) {
	s := err.Error()
	f.lastErr.Store(&s)
}

func (f *pushForwarder) run() {
	defer close(f.done)
	backoff := 100 * time.Millisecond
	var pending *[2][]byte // taken from the queue, not yet written
	for {
		select {
		case <-f.abort:
			return
		default:
		}
		zc, err := f.dial()
		if err != nil {
			f.setErr(err)
			f.log.Debug("forward: cannot connect", "to", f.addr, "err", err)
			select {
			case <-f.abort:
				return
			case <-f.stop:
				if len(f.q) == 0 && pending == nil {
					return
				}
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		f.connected.Store(true)
		f.log.Info("forward: connected", "to", f.addr)
		var finished bool
		pending, finished = f.pump(zc, pending)
		f.connected.Store(false)
		zc.Close()
		if finished {
			return
		}
		f.reconnects.Add(1)
	}
}

func (f *pushForwarder) dial() (*zmtp.Conn, error) {
	nc, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	zc, err := zmtp.Handshake(nc, "PUSH", 5*time.Second)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return zc, nil
}

// pump writes queued events to zc until it fails (returning the event in hand) or
// until Close and the queue is empty (finished).
func (f *pushForwarder) pump(zc *zmtp.Conn, pending *[2][]byte) (_ *[2][]byte, finished bool) {
	// A PULL peer never writes: a read returning means the connection is gone.
	gone := make(chan struct{})
	go func() {
		var b [1]byte
		_, _ = io.ReadFull(connReader{zc}, b[:])
		close(gone)
		zc.Close()
	}()
	write := func(m [2][]byte) bool {
		if err := zc.WriteMsg(m[0], m[1]); err != nil {
			f.setErr(err)
			return false
		}
		return true
	}
	flush := func() bool {
		if err := zc.Flush(); err != nil {
			f.setErr(err)
			return false
		}
		return true
	}
	if pending != nil {
		if !write(*pending) || !flush() {
			return pending, false
		}
		f.bytes.Add(-int64(len(pending[0]) + len(pending[1])))
		f.sent.Add(1)
	}
	for {
		var m [2][]byte
		select {
		case m = <-f.q:
		case <-gone:
			return nil, false
		case <-f.abort:
			return nil, true
		case <-f.stop:
			select {
			case m = <-f.q:
			default:
				return nil, true
			}
		}
		if !write(m) {
			return &m, false
		}
		if len(f.q) == 0 && !flush() {
			return &m, false
		}
		f.bytes.Add(-int64(len(m[0]) + len(m[1])))
		f.sent.Add(1)
	}
}

// connReader reads from a zmtp.Conn's peer, to notice a closed connection.
type connReader struct{ zc *zmtp.Conn }

func (r connReader) Read(p []byte) (int, error) {
	_, err := r.zc.ReadMsg(nil, 0, nil)
	if err == nil {
		err = fmt.Errorf("unexpected message from a PULL peer")
	}
	return 0, err
}
