package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/blueox/ox/oxd/internal/zmtp"
)

// publisher is the live stream: a PUB socket where each event goes out as two frames,
// the type name and the data frame, to the subscribers whose prefix matches.
//
// Each subscriber has its own bounded queue and writer goroutine, so Publish never
// blocks and a slow or stuck subscriber loses only its own events (counted).
type publisher struct {
	l          net.Listener
	queueLen   int   // events a subscriber may have queued
	queueBytes int64 // bytes of data a subscriber may have queued
	maxSubs    int
	log        *slog.Logger
	onPanic    panicHandler

	mu     sync.Mutex // guards changes to subs and closed
	subs   atomic.Pointer[[]*subscriber]
	track  *connTrack // every accepted connection, handshakes included; at maxSubs the longest-idle goes
	closed bool

	sent, dropped, refused atomic.Uint64
	wg                     sync.WaitGroup
}

type subscriber struct {
	zc       *zmtp.Conn
	entry    *connEntry // touched when a write to the subscriber succeeds
	prefixes atomic.Pointer[[]string]
	q        chan streamMsg
	bytes    atomic.Int64
	unsent   atomic.Int64 // messages queued or being written
	lastSlab *slab        // the slab of the last event queued; only Publish uses it
	sent     atomic.Uint64
	dropped  atomic.Uint64
	done     chan struct{}
}

type streamMsg struct {
	typ    string
	data   []byte
	slab   *slab // data's slab, one reference held for this message; or nil
	charge int64 // what the message counts against the subscriber's queueBytes
}

// streamRange is where the original picked its stream port.
const streamLow, streamHigh = 35000, 36000

// listenStream binds the stream on host: on port when it is not 0, else on a random
// free port in [35000, 36000), as the original did.
func listenStream(host string, port int) (net.Listener, error) {
	if port != 0 {
		return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	var err error
	for range 200 {
		p := streamLow + rand.IntN(streamHigh-streamLow)
		var l net.Listener
		l, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port in [%d, %d): %w", streamLow, streamHigh, err)
}

func newPublisher(l net.Listener, log *slog.Logger) *publisher {
	p := &publisher{l: l, queueLen: 8192, queueBytes: 8 << 20, maxSubs: 64, log: log, track: newConnTrack(64)}
	p.subs.Store(&[]*subscriber{})
	return p
}

// Port is the stream's port, the SOCK_STREAM reply.
func (p *publisher) Port() int { return p.l.Addr().(*net.TCPAddr).Port }

// Run accepts subscribers until the listener is closed by Close.
func (p *publisher) Run() {
	for {
		nc, err := p.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e, evicted := p.track.admit(nc)
		if e == nil {
			p.refused.Add(1)
			nc.Close()
			continue
		}
		if evicted != nil {
			p.log.Warn("stream: at the connection limit; closed the longest-idle connection for a new one",
				"closed", evicted.RemoteAddr(), "from", nc.RemoteAddr(), "max", p.maxSubs)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track.remove(nc)
			defer catchPanic(p.onPanic, "stream", nc.RemoteAddr())
			p.serve(nc, e)
		}()
	}
}

func (p *publisher) serve(nc net.Conn, e *connEntry) {
	defer nc.Close()
	zc, err := zmtp.Handshake(nc, "PUB", handshakeTime)
	if err != nil {
		p.log.Debug("stream: handshake failed", "from", nc.RemoteAddr(), "err", err)
		return
	}
	s := &subscriber{zc: zc, entry: e, q: make(chan streamMsg, p.queueLen), done: make(chan struct{})}
	s.prefixes.Store(&[]string{})
	if !p.add(s) {
		p.refused.Add(1)
		p.log.Warn("stream: too many subscribers; refused one", "from", nc.RemoteAddr(), "max", p.maxSubs)
		return
	}
	p.log.Info("stream: subscriber connected", "from", nc.RemoteAddr())
	go func() {
		defer s.zc.Close() // ends the reader too, should the writer panic
		defer catchPanic(p.onPanic, "stream", nc.RemoteAddr())
		s.writeLoop(p)
	}()
	defer func() {
		p.remove(s)
		close(s.done)
		p.log.Info("stream: subscriber left", "from", nc.RemoteAddr(), "sent", s.sent.Load(), "dropped", s.dropped.Load())
	}()
	// A subscriber must subscribe within streamIdle; then it only listens, and
	// the connection limit makes room for new ones by closing the longest-idle.
	_ = nc.SetReadDeadline(time.Now().Add(streamIdle))
	for {
		m, err := zc.ReadMsg(nil, 4096, nil)
		if errors.Is(err, zmtp.ErrTooLarge) {
			continue
		}
		if err != nil {
			return
		}
		prefix, on, ok := zmtp.Subscription(m)
		if !ok {
			continue
		}
		old := *s.prefixes.Load()
		next := make([]string, 0, len(old)+1)
		for _, x := range old {
			if x != prefix {
				next = append(next, x)
			}
		}
		if on && len(next) < 256 {
			next = append(next, prefix)
		}
		if len(next) > 0 {
			_ = nc.SetReadDeadline(time.Time{})
			e.touch()
		}
		s.prefixes.Store(&next)
	}
}

// writeMax bounds what one gathered write to a subscriber takes from its queue.
const (
	writeMaxMsgs  = 256
	writeMaxBytes = 256 << 10
)

func (s *subscriber) writeLoop(p *publisher) {
	msgs := make([]zmtp.TopicMsg, 0, writeMaxMsgs)
	taken := make([]streamMsg, 0, writeMaxMsgs)
	for {
		select {
		case <-s.done:
			return
		case m := <-s.q:
			// Take what else is queued, up to a bound, and send it in one go.
			taken = append(taken[:0], m)
			n := len(m.data)
		more:
			for len(taken) < writeMaxMsgs && n < writeMaxBytes {
				select {
				case m := <-s.q:
					taken = append(taken, m)
					n += len(m.data)
				default:
					break more
				}
			}
			msgs = msgs[:0]
			for _, m := range taken {
				msgs = append(msgs, zmtp.TopicMsg{Topic: m.typ, Data: m.data})
			}
			err := s.zc.WriteTopicMsgs(msgs)
			clear(msgs)
			var charge int64
			for _, m := range taken {
				charge += m.charge
				if m.slab != nil {
					m.slab.release() // written: the slab may be reused
				}
			}
			clear(taken)
			s.bytes.Add(-charge)
			s.unsent.Add(-int64(len(msgs)))
			if err != nil {
				s.zc.Close() // the reader sees it and removes the subscriber
				return
			}
			s.entry.touch()
			s.sent.Add(uint64(len(msgs)))
			p.sent.Add(uint64(len(msgs)))
		}
	}
}

func (p *publisher) add(s *subscriber) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	if p.closed || len(old) >= p.maxSubs {
		return false
	}
	next := append(append([]*subscriber(nil), old...), s)
	p.subs.Store(&next)
	return true
}

func (p *publisher) remove(s *subscriber) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	next := make([]*subscriber, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	p.subs.Store(&next)
}

// Publish offers an event to every subscriber whose prefix matches typ. It never
// blocks: a subscriber whose queue is full loses the event, counted. When data lives
// in a slab, each queued copy holds a reference to it, and a subscriber's queue is
// charged a whole slab for the first of its events in that slab: what a slow
// subscriber keeps in memory is bounded by queueBytes, whatever its prefixes.
// Publish is called from one goroutine at a time.
func (p *publisher) Publish(typ string, data []byte, sl *slab) {
	for _, s := range *p.subs.Load() {
		if !s.matches(typ) {
			continue
		}
		charge := int64(len(data))
		if sl != nil {
			charge = 0
			if sl != s.lastSlab {
				charge = slabSize
			}
		}
		if s.bytes.Load()+charge > p.queueBytes {
			s.dropped.Add(1)
			p.dropped.Add(1)
			continue
		}
		if sl != nil {
			sl.retain() // before the writer can see (and release) it
		}
		s.unsent.Add(1)
		select {
		case s.q <- streamMsg{typ: typ, data: data, slab: sl, charge: charge}:
			s.bytes.Add(charge)
			if sl != nil {
				s.lastSlab = sl
			}
		default:
			if sl != nil {
				sl.release()
			}
			s.unsent.Add(-1)
			s.dropped.Add(1)
			p.dropped.Add(1)
		}
	}
}

func (s *subscriber) matches(typ string) bool {
	for _, prefix := range *s.prefixes.Load() {
		if strings.HasPrefix(typ, prefix) {
			return true
		}
	}
	return false
}

// Stats reports the stream's counters for STATUS.
func (p *publisher) Stats() map[string]any {
	subs := *p.subs.Load()
	queued, prefixes := 0, 0
	for _, s := range subs {
		queued += len(s.q)
		prefixes += len(*s.prefixes.Load())
	}
	return map[string]any{
		"port":        p.Port(),
		"subscribers": len(subs),
		"prefixes":    prefixes,
		"sent":        p.sent.Load(),
		"dropped":     p.dropped.Load(),
		"refused":     p.refused.Load(),
		"queued":      queued,
	}
}

// Close stops accepting, gives subscribers until ctx ends to take what is queued,
// and disconnects them.
func (p *publisher) Close(ctx context.Context) {
	p.l.Close()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, s := range *p.subs.Load() {
		for s.unsent.Load() > 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		s.zc.Close()
	}
	p.track.closeAll()
	p.wg.Wait()
}
