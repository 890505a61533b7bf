package fwdlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueox/ox/internal/spool"
	"github.com/go-zeromq/zmq4"
)

// ForwarderOptions configure a Forwarder. Zero values mean the defaults.
type ForwarderOptions struct {
	// Targets are receivers' link addresses (host:port), in order of preference.
	Targets []string
	// FailoverAfter is how long the current target may stay unreachable before the
	// forwarder moves to the next one (default 30s).
	FailoverAfter time.Duration
	// ProbeInterval is how often the first target is tried while another one is in
	// use, to move back when it returns (default 5s).
	ProbeInterval time.Duration
	// Compress deflates batch payloads.
	Compress bool
	// BatchEvents and BatchBytes bound one batch (defaults 2000 events, 1 MiB).
	BatchEvents int
	BatchBytes  int
	// Window is the number of batches sent and not yet acknowledged (default 8).
	Window int
	// Heartbeat is the idle time after which a ping is sent (default 2s).
	Heartbeat time.Duration
	// Timeout is how long an expected acknowledgement may take before the connection
	// is considered dead and closed; also the dial and write timeout (default 10s).
	Timeout time.Duration
	// Logger receives connection, failover and error logs (default slog.Default()).
	Logger *slog.Logger
}

// ForwarderStats are a Forwarder's state and counters.
type ForwarderStats struct {
	Target            string   // the receiver in use (or being tried)
	Targets           []string // the configured list
	Connected         bool     // a link to Target is up
	BatchesSent       uint64   // batches sent, resends included
	EventsSent        uint64   // events sent, resends included
	EventsAcked       uint64   // events acknowledged since start
	AckRate           float64  // events acknowledged per second, over the last ~5s
	BytesRaw          uint64   // batch payload bytes before compression
	BytesSent         uint64   // batch payload bytes sent
	CompressionSaving float64  // 1 - BytesSent/BytesRaw (0 without compression)
	Reconnects        uint64   // connections opened
	Failovers         uint64   // moves to another target because the current one was unreachable
	Retargets         uint64   // moves requested with SetTargets, or back to the first target
	LastError         string   // the most recent link error
	Spool             spool.Stats
}

// Forwarder sends the records of a spool to the first reachable target and
// acknowledges them in the spool as the receiver confirms them.
type Forwarder struct {
	sp   *spool.Spool
	opts ForwarderOptions
	log  *slog.Logger

	mu        sync.Mutex
	targets   []string
	target    string
	connected bool
	lastErr   string
	rate      float64
	rateT     time.Time
	rateN     uint64

	retarget chan struct{}

	batches, events, acked, raw, sent, reconnects, failovers, retargets atomic.Uint64
}

// NewForwarder returns a Forwarder for sp; Run starts it.
func NewForwarder(sp *spool.Spool, opts ForwarderOptions) (*Forwarder, error) {
	if opts.FailoverAfter <= 0 {
		opts.FailoverAfter = 30 * time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 5 * time.Second
	}
	if opts.BatchEvents <= 0 {
		opts.BatchEvents = 2000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 1 << 20
	}
	opts.BatchBytes = min(opts.BatchBytes, MaxPayload/2)
	opts.BatchEvents = min(opts.BatchEvents, MaxBatchEvents)
	if opts.Window <= 0 {
		opts.Window = 8
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 2 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := checkTargets(opts.Targets); err != nil {
		return nil, err
	}
	f := &Forwarder{
		sp:       sp,
		opts:     opts,
		log:      opts.Logger,
		targets:  append([]string(nil), opts.Targets...),
		retarget: make(chan struct{}, 1),
		rateT:    time.Now(),
	}
	f.target = f.targets[0]
	return f, nil
}

func checkTargets(ts []string) error {
	if len(ts) == 0 {
		return errors.New("fwdlink: no forward target")
	}
	for _, t := range ts {
		if _, _, err := net.SplitHostPort(t); err != nil {
			return fmt.Errorf("fwdlink: forward target %q: %w", t, err)
		}
	}
	return nil
}

// SetTargets re-points the forwarder at a new list of targets without a restart:
// batches already sent are given up to Timeout to be acknowledged by the old target,
// then whatever is unacknowledged is sent to the new first target.
func (f *Forwarder) SetTargets(targets []string) error {
	if err := checkTargets(targets); err != nil {
		return err
	}
	f.mu.Lock()
	f.targets = append([]string(nil), targets...)
	f.mu.Unlock()
	f.log.Info("fwdlink: forward targets changed", "targets", targets)
	select {
	case f.retarget <- struct{}{}:
	default:
	}
	return nil
}

// Targets returns the configured target list.
func (f *Forwarder) Targets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.targets...)
}

// Stats returns the forwarder's state and counters.
func (f *Forwarder) Stats() ForwarderStats {
	f.updateRate(time.Now())
	f.mu.Lock()
	st := ForwarderStats{
		Target:    f.target,
		Targets:   append([]string(nil), f.targets...),
		Connected: f.connected,
		LastError: f.lastErr,
		AckRate:   f.rate,
	}
	f.mu.Unlock()
	st.BatchesSent = f.batches.Load()
	st.EventsSent = f.events.Load()
	st.EventsAcked = f.acked.Load()
	st.BytesRaw = f.raw.Load()
	st.BytesSent = f.sent.Load()
	if st.BytesRaw > 0 && st.BytesSent < st.BytesRaw {
		st.CompressionSaving = 1 - float64(st.BytesSent)/float64(st.BytesRaw)
	}
	st.Reconnects = f.reconnects.Load()
	st.Failovers = f.failovers.Load()
	st.Retargets = f.retargets.Load()
	st.Spool = f.sp.Stats()
	return st
}

// endReason says why a session ended.
type endReason int

const (
	endFailed   endReason = iota // connection failed or died
	endStopped                   // ctx ended
	endRetarget                  // SetTargets
	endPrimary                   // the first target is back
)

// Run forwards until ctx ends. It returns nil then; the spool keeps whatever is
// unacknowledged for the next run.
func (f *Forwarder) Run(ctx context.Context) error {
	idx := 0
	hinted := map[string]string{} // wrong-port hints logged, by target
	var downSince time.Time
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		f.mu.Lock()
		targets := f.targets
		if idx >= len(targets) {
			idx = 0
		}
		target := targets[idx]
		f.target = target
		f.mu.Unlock()

		reason, healthy, err := f.session(ctx, target, idx)
		f.setConnected(false)
		switch reason {
		case endStopped:
			return nil
		case endRetarget, endPrimary:
			f.retargets.Add(1)
			idx, downSince, backoff = 0, time.Time{}, 50*time.Millisecond
			continue
		}
		f.mu.Lock()
		f.lastErr = err.Error()
		f.mu.Unlock()
		now := time.Now()
		if healthy || downSince.IsZero() {
			downSince = now
			backoff = 50 * time.Millisecond
		}
		f.log.Debug("fwdlink: link to target failed", "target", target, "err", err)
		if hint := wrongPortHint(err); hint != "" && hinted[target] != hint {
			hinted[target] = hint // once per target and kind of mistake
			f.log.Error("fwdlink: forward target is the wrong kind of port", "target", target, "err", err, "hint", hint)
		}
		if len(targets) > 1 && now.Sub(downSince) >= f.opts.FailoverAfter {
			next := targets[(idx+1)%len(targets)]
			f.log.Warn("fwdlink: target unreachable, failing over", "from", target, "to", next,
				"unreachable_for", now.Sub(downSince).Round(time.Millisecond).String(), "err", err)
			idx = (idx + 1) % len(targets)
			downSince = now
			f.failovers.Add(1)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.retarget:
			f.retargets.Add(1)
			idx, downSince, backoff = 0, time.Time{}, 50*time.Millisecond
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		}
	}
	return nil
}

func (f *Forwarder) setConnected(v bool) {
	f.mu.Lock()
	f.connected = v
	f.mu.Unlock()
}

type inflight struct {
	last   uint64
	events uint64
}

type incoming struct {
	fr  Frame
	err error
}

// dial connects to target and says hello; it returns the open link and the highest
// sequence number the receiver already has.
func (f *Forwarder) dial(ctx context.Context, target string) (*link, uint64, error) {
	d := net.Dialer{Timeout: f.opts.Timeout}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, 0, err
	}
	defer context.AfterFunc(ctx, func() { c.Close() })() // stopping never waits on a peer
	l, err := openLink(c, zmq4.Dealer, false, f.opts.Timeout)
	if err != nil {
		return nil, 0, fmt.Errorf("handshake: %w", err)
	}
	id := f.sp.ID()
	if err := l.send(Frame{Type: TypeHello, ID: id, Seq: f.sp.Acked()}, f.opts.Timeout); err != nil {
		l.close()
		return nil, 0, fmt.Errorf("hello: %w", err)
	}
	fr, err := l.recv(f.opts.Timeout)
	if err == nil && fr.Type == TypeError {
		err = fmt.Errorf("receiver refused: %s", fr.Payload)
	} else if err == nil && (fr.Type != TypeAck || fr.ID != id) {
		err = fmt.Errorf("unexpected reply type %d to hello", fr.Type)
	}
	if err != nil {
		l.close()
		return nil, 0, err
	}
	l.raw.SetReadDeadline(time.Time{})
	return l, fr.Seq, nil
}

// session runs one connection to target. healthy reports whether the link worked
// (was acknowledged) at some point, which restarts the failover clock.
func (f *Forwarder) session(ctx context.Context, target string, idx int) (reason endReason, healthy bool, err error) {
	l, have, err := f.dial(ctx, target)
	if err != nil {
		if ctx.Err() != nil {
			return endStopped, false, nil
		}
		return endFailed, false, err
	}
	defer l.close()
	defer context.AfterFunc(ctx, func() { l.close() })() // unblocks a write to a stalled peer
	f.reconnects.Add(1)
	f.sp.Ack(have) // the receiver already wrote these (e.g. it lost our last ack)
	f.setConnected(true)
	f.log.Info("fwdlink: connected", "target", target, "acked", f.sp.Acked())

	in := make(chan incoming, 16)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			fr, err := l.recv(0)
			select {
			case in <- incoming{fr, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var (
		comp      compressor
		payload   []byte
		window    []inflight
		sent      = f.sp.Acked()
		lastSend  = time.Now()
		waitSince time.Time // when we started waiting for a reply (zero: not waiting)
		draining  endReason = -1
		drainEnd  time.Time
		probe     = make(chan bool, 1)
		probing   bool
		nextProbe = time.Now().Add(f.opts.ProbeInterval)
	)
	tick := time.NewTicker(min(f.opts.Heartbeat, f.opts.Timeout, 250*time.Millisecond))
	defer tick.Stop()

	for {
		// Fill the window from the spool.
		for draining < 0 && len(window) < f.opts.Window {
			if a := f.sp.Acked(); sent < a {
				sent = a
			}
			recs, rerr := f.sp.Read(sent+1, f.opts.BatchEvents, f.opts.BatchBytes)
			if rerr != nil {
				return endStopped, healthy, rerr
			}
			if len(recs) == 0 {
				break
			}
			payload = payload[:0]
			for _, r := range recs {
				payload = appendEvent(payload, r.Meta, r.Data)
			}
			fr := Frame{Type: TypeBatch, ID: f.sp.ID(), Seq: recs[0].Seq, Count: uint32(len(recs)), Payload: payload}
			if f.opts.Compress {
				fr.Flags = FlagDeflate
				fr.Payload = comp.deflate(payload)
			}
			if err := l.send(fr, f.opts.Timeout); err != nil {
				return endFailed, healthy, fmt.Errorf("send batch: %w", err)
			}
			f.batches.Add(1)
			f.events.Add(uint64(len(recs)))
			f.raw.Add(uint64(len(payload)))
			f.sent.Add(uint64(len(fr.Payload)))
			sent = recs[len(recs)-1].Seq
			window = append(window, inflight{last: sent, events: uint64(len(recs))})
			lastSend = time.Now()
			if waitSince.IsZero() {
				waitSince = lastSend
			}
		}
		if draining >= 0 && (len(window) == 0 || time.Now().After(drainEnd)) {
			return draining, healthy, nil
		}

		select {
		case <-ctx.Done():
			return endStopped, healthy, nil
		case m := <-in:
			if m.err != nil {
				return endFailed, healthy, fmt.Errorf("receive: %w", m.err)
			}
			switch m.fr.Type {
			case TypeAck:
				healthy = true
				f.sp.Ack(m.fr.Seq)
				for len(window) > 0 && window[0].last <= m.fr.Seq {
					f.acked.Add(window[0].events)
					window = window[1:]
				}
				waitSince = time.Time{}
				if len(window) > 0 {
					waitSince = time.Now()
				}
			case TypeError:
				return endFailed, healthy, fmt.Errorf("receiver error: %s", m.fr.Payload)
			default:
				return endFailed, healthy, fmt.Errorf("unexpected frame type %d", m.fr.Type)
			}
		case <-f.sp.Notify():
		case <-f.retarget:
			draining, drainEnd = endRetarget, time.Now().Add(f.opts.Timeout)
		case ok := <-probe:
			probing = false
			if ok && draining < 0 {
				f.log.Info("fwdlink: first target is back, moving to it", "from", target)
				draining, drainEnd = endPrimary, time.Now().Add(f.opts.Timeout)
			}
		case now := <-tick.C:
			f.updateRate(now)
			if !waitSince.IsZero() && now.Sub(waitSince) > f.opts.Timeout {
				return endFailed, healthy, fmt.Errorf("no acknowledgement for %v", f.opts.Timeout)
			}
			if len(window) == 0 && waitSince.IsZero() && now.Sub(lastSend) >= f.opts.Heartbeat {
				if err := l.send(Frame{Type: TypePing, ID: f.sp.ID(), Seq: f.sp.Acked()}, f.opts.Timeout); err != nil {
					return endFailed, healthy, fmt.Errorf("ping: %w", err)
				}
				lastSend, waitSince = now, now
			}
			if idx != 0 && !probing && now.After(nextProbe) {
				probing = true
				nextProbe = now.Add(f.opts.ProbeInterval)
				go f.probe(ctx, probe)
			}
		}
	}
}

// probe reports whether the first target answers a hello.
func (f *Forwarder) probe(ctx context.Context, out chan<- bool) {
	f.mu.Lock()
	primary := f.targets[0]
	f.mu.Unlock()
	l, _, err := f.dial(ctx, primary)
	if err == nil {
		l.close()
	}
	out <- err == nil
}

func (f *Forwarder) updateRate(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dt := now.Sub(f.rateT); dt >= 5*time.Second {
		n := f.acked.Load()
		f.rate = float64(n-f.rateN) / dt.Seconds()
		f.rateT, f.rateN = now, n
	}
}
