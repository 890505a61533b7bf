package main

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Guards every port takes against its peers (docs/security.md): a panic while
// serving one connection ends that connection only, and a port at its connection
// limit makes room for a new client by closing its longest-idle connection, so
// idle or trickling peers cannot lock clients out.

// Idle timeouts after the handshake. A collection connection that completes no
// message for collectIdle is closed (ZeroMQ senders reconnect by themselves); admin
// tools ask and leave; a stream subscriber must subscribe within streamIdle.
const (
	collectIdle   = 5 * time.Minute
	controlIdle   = 30 * time.Second
	streamIdle    = 30 * time.Second
	handshakeTime = 10 * time.Second
)

// connTrack is a port's set of open connections, with when each last completed a
// message.
type connTrack struct {
	max int

	mu      sync.Mutex
	conns   map[net.Conn]*connEntry
	closed  bool
	evicted atomic.Uint64
}

// connEntry is one tracked connection.
type connEntry struct {
	nc   net.Conn
	last atomic.Int64 // unix nanoseconds of the last completed message (or accept)
}

// touch records that the connection completed a message.
func (e *connEntry) touch() { e.last.Store(time.Now().UnixNano()) }

func newConnTrack(max int) *connTrack {
	return &connTrack{max: max, conns: map[net.Conn]*connEntry{}}
}

// admit tracks nc. At the limit it first closes the connection that has been idle
// longest and returns it as evicted (nil if none). It returns a nil entry when the
// set is closed; the caller then closes nc.
func (t *connTrack) admit(nc net.Conn) (e *connEntry, evicted net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil
	}
	if len(t.conns) >= t.max {
		var oldest *connEntry
		for _, c := range t.conns {
			if oldest == nil || c.last.Load() < oldest.last.Load() {
				oldest = c
			}
		}
		if oldest != nil {
			delete(t.conns, oldest.nc)
			oldest.nc.Close() // its reader sees the error and ends
			evicted = oldest.nc
			t.evicted.Add(1)
		}
	}
	e = &connEntry{nc: nc}
	e.touch()
	t.conns[nc] = e
	return e, evicted
}

// remove stops tracking nc.
func (t *connTrack) remove(nc net.Conn) {
	t.mu.Lock()
	delete(t.conns, nc)
	t.mu.Unlock()
}

// len is the number of connections tracked.
func (t *connTrack) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// closeAll closes every tracked connection and admits no more.
func (t *connTrack) closeAll() {
	t.mu.Lock()
	t.closed = true
	for nc := range t.conns {
		nc.Close()
	}
	t.mu.Unlock()
}

// panicHandler is told of a panic caught while serving a connection.
type panicHandler func(port string, from net.Addr, v any, stack []byte)

// catchPanic, deferred by a connection's goroutine, turns a panic into a call of h
// (when set) and lets the goroutine end: the caller's own deferred cleanup closes
// the connection. It must be deferred directly (recover works only there).
func catchPanic(h panicHandler, port string, from net.Addr) {
	v := recover()
	if v == nil {
		return
	}
	if h != nil {
		h(port, from, v, debug.Stack())
	}
}

// notePanic is the daemon's panicHandler: counted in STATUS as dropped "panic",
// logged with its stack at most every 10 s.
func (d *daemon) notePanic(port string, from net.Addr, v any, stack []byte) {
	d.collect.dropped[dropPanic].Add(1)
	addr := ""
	if from != nil {
		addr = from.String()
	}
	d.panicLog.Warn("panic:"+port, "recovered from a panic while serving a connection; closed it",
		"port", port, "from", addr, "panic", fmt.Sprint(v), "stack", string(stack))
}

// defaultMemoryLimit is the Go runtime's soft memory limit for oxd when
// GOMEMLIMIT is not set: under a burst of large messages or batches the garbage
// collector then returns memory well before the heap doubles, which keeps oxd's
// resident memory within what docs/security.md states. It is a soft limit: oxd
// never fails for reaching it.
const defaultMemoryLimit = 192 << 20

func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
