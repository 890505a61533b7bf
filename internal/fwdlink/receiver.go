package fwdlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueox/ox/internal/membudget"
	"github.com/go-zeromq/zmq4"
)

// DeliverFunc receives the new events of one batch from forwarder id. It must return
// only once the events are written and flushed (to files, or to a further spool): the
// batch is acknowledged as soon as it returns nil. An error leaves the batch
// unacknowledged; the connection is closed and the forwarder sends it again later.
type DeliverFunc func(ctx context.Context, forwarder string, events []Event) error

// ReceiverOptions configure a Receiver. Zero values mean the defaults.
type ReceiverOptions struct {
	// StatePath is the file holding the highest sequence number written per
	// forwarder, so that batches resent after a restart of this receiver are still
	// recognised. Empty keeps the state in memory only.
	StatePath string
	// Deliver is called for every batch; required.
	Deliver DeliverFunc
	// IdleTimeout closes a connection that sent nothing for this long (default 30s;
	// forwarders ping every few seconds).
	IdleTimeout time.Duration
	// MaxForwarders bounds the forwarder ids remembered (default 4096).
	MaxForwarders int
	// Logger receives connection and error logs (default slog.Default()).
	Logger *slog.Logger
	// MaxConns bounds the open link connections, handshakes included (default 64);
	// at the bound, the connection idle longest is closed for a new one.
	MaxConns int
	// OnPanic, when set, is told of a panic caught while serving a connection;
	// the connection is closed and the receiver goes on.
	OnPanic func(v any, stack []byte)
}

// ReceiverStats are a Receiver's counters.
type ReceiverStats struct {
	Connections  int64  // open link connections
	Accepted     uint64 // connections accepted since start
	Batches      uint64 // batches delivered
	Events       uint64 // events delivered
	Duplicates   uint64 // resent events dropped because they were already written
	Gaps         uint64 // sequence numbers skipped by forwarders (dropped from a full spool, or sent elsewhere)
	BadFrames    uint64 // malformed frames (the connection is closed)
	DeliverFails uint64 // batches whose delivery failed (left unacknowledged)
	StateErrors  uint64 // failures to save the state file
	BytesWire    uint64 // batch payload bytes received
	BytesRaw     uint64 // the same, uncompressed
	Forwarders   int    // forwarder ids known
	Evicted      uint64 // idle connections closed to make room at MaxConns
	Panics       uint64 // connections closed after a panic while serving them
	Busy         uint64 // batches refused for lack of decompression memory (resent later)
}

// Receiver accepts link connections, delivers batches and acknowledges them.
type Receiver struct {
	opts ReceiverOptions
	log  *slog.Logger

	mu    sync.Mutex
	last  map[string]uint64
	locks map[string]*sync.Mutex
	conns map[net.Conn]*atomic.Int64 // open connections -> unix ns of their last frame
	infl  *membudget.Budget          // decompressed batch bytes held, all connections
	recvd *membudget.Budget          // frames being received, all connections

	saveMu   sync.Mutex // guards the state file's slots
	stateF   *os.File
	slots    map[string]int64
	nextSlot int64
	free     []int64 // slots found damaged, to reuse

	conn                                                       atomic.Int64
	accepted, batches, events, dups, gaps, bad, fails, stateEr atomic.Uint64
	wire, raw                                                  atomic.Uint64
	evicted, panics, busy                                      atomic.Uint64
}

// NewReceiver loads the state file (a missing one is an empty state).
func NewReceiver(opts ReceiverOptions) (*Receiver, error) {
	if opts.Deliver == nil {
		return nil, errors.New("fwdlink: receiver needs a Deliver function")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.MaxForwarders <= 0 {
		opts.MaxForwarders = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	r := &Receiver{
		opts:  opts,
		log:   opts.Logger,
		last:  map[string]uint64{},
		locks: map[string]*sync.Mutex{},
		conns: map[net.Conn]*atomic.Int64{},
		infl:  membudget.New(inflateBudget),
		recvd: membudget.New(inflateBudget),
		slots: map[string]int64{},
	}
	if opts.StatePath != "" {
		if err := r.load(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// The state file holds one fixed 128-byte slot per forwarder, updated in place with
// a single write after each delivered batch, so the moment between "written to the
// files" and "recorded as written" is as short as one small write:
//
//	offset size field
//	0      4    CRC-32C of bytes 4..128
//	4      8    highest sequence number written
//	12     1    id length n
//	13     n    forwarder id (up to 64 bytes), then zeros to 128
//
// A slot whose CRC does not match (a torn write after a machine crash) is ignored:
// that forwarder's resent batches are then written again; nothing is lost.
const slotSize = 128

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (r *Receiver) load() error {
	f, err := os.OpenFile(r.opts.StatePath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("fwdlink: state: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("fwdlink: state: %w", err)
	}
	r.stateF = f
	for off := 0; off+slotSize <= len(b); off += slotSize {
		slot := b[off : off+slotSize]
		n := int(slot[12])
		id := ""
		if n <= MaxIDLen {
			id = string(slot[13 : 13+n])
		}
		if crc32.Checksum(slot[4:], castagnoli) != binary.BigEndian.Uint32(slot) || id == "" || !validID(id) {
			r.log.Warn("fwdlink: bad slot in receiver state file, ignored", "file", r.opts.StatePath, "offset", off)
			r.free = append(r.free, int64(off))
			continue
		}
		r.last[id] = binary.BigEndian.Uint64(slot[4:])
		r.slots[id] = int64(off)
	}
	r.nextSlot = int64(len(b) / slotSize * slotSize)
	return nil
}

// save records that id has everything up to seq written. Callers hold id's lock.
func (r *Receiver) save(id string, seq uint64) error {
	var slot [slotSize]byte
	binary.BigEndian.PutUint64(slot[4:], seq)
	slot[12] = byte(len(id))
	copy(slot[13:], id)
	binary.BigEndian.PutUint32(slot[:], crc32.Checksum(slot[4:], castagnoli))
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if r.stateF == nil {
		return nil
	}
	off, ok := r.slots[id]
	if !ok {
		if n := len(r.free); n > 0 {
			off, r.free = r.free[n-1], r.free[:n-1]
		} else {
			off = r.nextSlot
			r.nextSlot += slotSize
		}
		r.slots[id] = off
	}
	_, err := r.stateF.WriteAt(slot[:], off)
	return err
}

// Serve accepts link connections on ln until ctx ends, then closes ln and every
// connection and returns nil. Each connection is served by its own goroutine; batches
// from one forwarder are delivered one at a time, in order. Serve is called once: it
// closes the state file when it returns.
func (r *Receiver) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("fwdlink: accept: %w", aerr)
				break
			}
			// Out of file descriptors and the like: wait, keep serving.
			r.log.Warn("fwdlink: accept", "err", aerr)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		r.mu.Lock()
		if ctx.Err() != nil {
			r.mu.Unlock()
			c.Close()
			break
		}
		if len(r.conns) >= r.opts.MaxConns {
			r.evictIdlest()
		}
		last := new(atomic.Int64)
		last.Store(time.Now().UnixNano())
		r.conns[c] = last
		r.mu.Unlock()
		r.accepted.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveConnSafe(ctx, c, last)
			r.mu.Lock()
			delete(r.conns, c)
			r.mu.Unlock()
			c.Close()
		}()
	}
	ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	wg.Wait()
	r.saveMu.Lock()
	if r.stateF != nil {
		r.stateF.Close()
		r.stateF = nil
	}
	r.saveMu.Unlock()
	return err
}

// evictIdlest closes the connection whose last frame is oldest. Callers hold r.mu.
func (r *Receiver) evictIdlest() {
	var oldest net.Conn
	var at int64
	for c, last := range r.conns {
		if t := last.Load(); oldest == nil || t < at {
			oldest, at = c, t
		}
	}
	if oldest != nil {
		delete(r.conns, oldest)
		oldest.Close()
		r.evicted.Add(1)
		r.log.Warn("fwdlink: at the connection limit; closed the longest-idle connection for a new one",
			"closed", oldest.RemoteAddr(), "max", r.opts.MaxConns)
	}
}

// serveConnSafe serves c; a panic ends only this connection.
func (r *Receiver) serveConnSafe(ctx context.Context, c net.Conn, last *atomic.Int64) {
	defer func() {
		if v := recover(); v != nil {
			r.panics.Add(1)
			if r.opts.OnPanic != nil {
				r.opts.OnPanic(v, debug.Stack())
			}
		}
	}()
	r.serveConn(ctx, c, last)
}

func (r *Receiver) serveConn(ctx context.Context, c net.Conn, last *atomic.Int64) {
	l, err := openLink(c, zmq4.Router, true, 10*time.Second, r.recvd)
	if err != nil {
		r.log.Debug("fwdlink: handshake failed", "peer", c.RemoteAddr(), "err", err)
		return
	}
	defer l.release()
	r.conn.Add(1)
	defer r.conn.Add(-1)
	peer := c.RemoteAddr().String()
	r.log.Debug("fwdlink: forwarder connected", "peer", peer)
	hello := false
	for {
		last.Store(time.Now().UnixNano())
		f, err := l.recv(r.opts.IdleTimeout)
		if err != nil {
			if errors.Is(err, errBusy) {
				r.busy.Add(1)
				r.log.Warn("fwdlink: no memory for a large frame in time, closing the connection", "peer", peer, "err", err)
			} else if errors.Is(err, ErrFrame) || errors.Is(err, ErrVersion) || errors.Is(err, errFrameTooLarge) {
				r.bad.Add(1)
				r.log.Warn("fwdlink: bad frame, closing the connection", "peer", peer, "err", err)
				l.send(Frame{Type: TypeError, Payload: []byte(err.Error())}, time.Second)
			} else if ctx.Err() == nil {
				r.log.Debug("fwdlink: connection ended", "peer", peer, "err", err)
			}
			return
		}
		var reply Frame
		switch f.Type {
		case TypeHello, TypePing:
			hello = hello || f.Type == TypeHello
			seq, ok := r.lastSeq(f.ID)
			if !ok {
				l.send(Frame{Type: TypeError, Payload: []byte("too many forwarders")}, time.Second)
				return
			}
			reply = Frame{Type: TypeAck, ID: f.ID, Seq: seq}
		case TypeBatch:
			if !hello {
				r.bad.Add(1)
				r.log.Warn("fwdlink: batch before hello, closing the connection", "peer", peer)
				l.send(Frame{Type: TypeError, Payload: []byte(fmt.Errorf("%w: batch before hello", ErrFrame).Error())}, time.Second)
				return
			}
			seq, err := r.batch(ctx, f)
			if errors.Is(err, errBusy) {
				r.busy.Add(1)
				r.log.Debug("fwdlink: batch refused for now", "peer", peer, "err", err)
				l.send(Frame{Type: TypeError, Payload: []byte(err.Error())}, time.Second)
				return
			}
			if err != nil {
				msg := err.Error()
				r.log.Warn("fwdlink: batch not accepted", "peer", peer, "forwarder", f.ID, "seq", f.Seq, "err", err)
				if errors.Is(err, ErrFrame) {
					r.bad.Add(1)
				}
				l.send(Frame{Type: TypeError, Payload: []byte(msg)}, time.Second)
				return
			}
			reply = Frame{Type: TypeAck, ID: f.ID, Seq: seq}
		default:
			r.bad.Add(1)
			l.send(Frame{Type: TypeError, Payload: []byte(fmt.Sprintf("unexpected frame type %d", f.Type))}, time.Second)
			return
		}
		if err := l.send(reply, 10*time.Second); err != nil {
			r.log.Debug("fwdlink: reply failed", "peer", peer, "err", err)
			return
		}
	}
}

// lastSeq returns the highest sequence number written for id, registering id.
func (r *Receiver) lastSeq(id string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.last[id]
	if !ok {
		if len(r.last) >= r.opts.MaxForwarders {
			return 0, false
		}
		r.last[id] = 0
	}
	return seq, true
}

func (r *Receiver) forwarderLock(id string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.locks[id]
	if m == nil {
		m = new(sync.Mutex)
		r.locks[id] = m
	}
	return m
}

// batch delivers the events of f not yet written and returns the sequence number to
// acknowledge.
func (r *Receiver) batch(ctx context.Context, f Frame) (uint64, error) {
	evs, held, err := batchEventsIn(f, MaxPayload, r.infl)
	if err != nil {
		return 0, err
	}
	defer r.infl.Give(held)
	raw := uint64(0)
	for _, e := range evs {
		raw += uint64(8 + len(e.Meta) + len(e.Data))
	}
	r.wire.Add(uint64(len(f.Payload)))
	r.raw.Add(raw)

	if _, ok := r.lastSeq(f.ID); !ok {
		return 0, errors.New("too many forwarders")
	}
	m := r.forwarderLock(f.ID)
	m.Lock()
	defer m.Unlock()
	r.mu.Lock()
	last := r.last[f.ID]
	r.mu.Unlock()

	end := f.Seq + uint64(f.Count) - 1
	if end <= last {
		r.dups.Add(uint64(f.Count))
		return last, nil
	}
	skip := uint64(0)
	if f.Seq <= last {
		skip = last - f.Seq + 1
		r.dups.Add(skip)
	} else if f.Seq > last+1 {
		if last > 0 {
			r.gaps.Add(f.Seq - last - 1)
			r.log.Warn("fwdlink: forwarder skipped sequence numbers (dropped from its full spool, or sent to another collector)",
				"forwarder", f.ID, "from", last+1, "to", f.Seq-1)
		}
	}
	if err := r.opts.Deliver(ctx, f.ID, evs[skip:]); err != nil {
		r.fails.Add(1)
		return 0, fmt.Errorf("deliver: %w", err)
	}
	r.mu.Lock()
	r.last[f.ID] = end
	r.mu.Unlock()
	if err := r.save(f.ID, end); err != nil {
		// The events are written; acknowledging is right. Without the state a
		// restart may write a resent batch twice.
		r.stateEr.Add(1)
		r.log.Error("fwdlink: cannot save receiver state, resent batches may be duplicated", "err", err)
	}
	r.batches.Add(1)
	r.events.Add(uint64(len(evs)) - skip)
	return end, nil
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	n := len(r.last)
	r.mu.Unlock()
	return ReceiverStats{
		Connections:  r.conn.Load(),
		Accepted:     r.accepted.Load(),
		Batches:      r.batches.Load(),
		Events:       r.events.Load(),
		Duplicates:   r.dups.Load(),
		Gaps:         r.gaps.Load(),
		BadFrames:    r.bad.Load(),
		DeliverFails: r.fails.Load(),
		StateErrors:  r.stateEr.Load(),
		BytesWire:    r.wire.Load(),
		BytesRaw:     r.raw.Load(),
		Forwarders:   n,
		Evicted:      r.evicted.Load(),
		Panics:       r.panics.Load(),
		Busy:         r.busy.Load(),
	}
}
