package fwdlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
}

// Receiver accepts link connections, delivers batches and acknowledges them.
type Receiver struct {
	opts ReceiverOptions
	log  *slog.Logger

	mu    sync.Mutex
	last  map[string]uint64
	locks map[string]*sync.Mutex
	conns map[net.Conn]struct{}

	saveMu sync.Mutex

	conn                                                       atomic.Int64
	accepted, batches, events, dups, gaps, bad, fails, stateEr atomic.Uint64
	wire, raw                                                  atomic.Uint64
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
	r := &Receiver{
		opts:  opts,
		log:   opts.Logger,
		last:  map[string]uint64{},
		locks: map[string]*sync.Mutex{},
		conns: map[net.Conn]struct{}{},
	}
	if opts.StatePath != "" {
		if err := r.load(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// The state file has one line per forwarder: "<id> <highest sequence written>".
func (r *Receiver) load() error {
	b, err := os.ReadFile(r.opts.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fwdlink: state: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		id, v, _ := strings.Cut(line, " ")
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil || !validID(id) || id == "" {
			// A torn line loses one forwarder's dedup point: its resent batches are
			// written twice, nothing is lost. Say so and go on.
			r.log.Warn("fwdlink: bad line in receiver state file", "file", r.opts.StatePath, "line", i+1)
			continue
		}
		r.last[id] = seq
	}
	return nil
}

func (r *Receiver) save() error {
	if r.opts.StatePath == "" {
		return nil
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	ids := make([]string, 0, len(r.last))
	for id := range r.last {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b []byte
	for _, id := range ids {
		b = append(b, id...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.last[id], 10)
		b = append(b, '\n')
	}
	r.mu.Unlock()
	tmp := r.opts.StatePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.opts.StatePath)
}

// Serve accepts link connections on ln until ctx ends, then closes ln and every
// connection and returns nil. Each connection is served by its own goroutine; batches
// from one forwarder are delivered one at a time, in order.
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
			if ctx.Err() == nil {
				var ne net.Error
				if errors.As(aerr, &ne) && ne.Timeout() {
					continue
				}
				err = fmt.Errorf("fwdlink: accept: %w", aerr)
			}
			break
		}
		r.mu.Lock()
		if ctx.Err() != nil {
			r.mu.Unlock()
			c.Close()
			break
		}
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.accepted.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveConn(ctx, c)
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
	return err
}

func (r *Receiver) serveConn(ctx context.Context, c net.Conn) {
	l, err := openLink(c, zmq4.Router, true, 10*time.Second)
	if err != nil {
		r.log.Debug("fwdlink: handshake failed", "peer", c.RemoteAddr(), "err", err)
		return
	}
	r.conn.Add(1)
	defer r.conn.Add(-1)
	peer := c.RemoteAddr().String()
	r.log.Debug("fwdlink: forwarder connected", "peer", peer)
	for {
		f, err := l.recv(r.opts.IdleTimeout)
		if err != nil {
			if errors.Is(err, ErrFrame) || errors.Is(err, ErrVersion) || errors.Is(err, errFrameTooLarge) {
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
			seq, ok := r.lastSeq(f.ID)
			if !ok {
				l.send(Frame{Type: TypeError, Payload: []byte("too many forwarders")}, time.Second)
				return
			}
			reply = Frame{Type: TypeAck, ID: f.ID, Seq: seq}
		case TypeBatch:
			seq, err := r.batch(ctx, f)
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
	evs, err := BatchEvents(f)
	if err != nil {
		return 0, err
	}
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
	if err := r.save(); err != nil {
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
	}
}
