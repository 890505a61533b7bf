package main

import (
	"sync"
	"time"
)

// maxTracked bounds the per-type and per-host entries STATUS keeps: names come from
// the network, and a flood of distinct ones must not grow memory without end.
const maxTracked = 10000

// stats is what STATUS reports about received events. The loop updates it once per
// batch; the control server reads it.
type stats struct {
	mu        sync.Mutex
	received  uint64
	last      time.Time // receive time of the last event; zero before the first
	lag       float64   // last receive time minus that event's end, seconds
	hosts     map[string]float64
	untracked uint64 // events whose type or host was past maxTracked
	hasFiles  bool   // --log-path is set: STATUS shows files from the start
	writer    writerStats
	openFiles int
	counts    typeCounts // per type: last end time, events and bytes (typecount.go)
}

func newStats() *stats {
	return &stats{hosts: map[string]float64{}, counts: newTypeCounts()}
}

// status returns the original STATUS keys, "last", "lag", "events", "hosts", with
// nil for last and lag before the first event.
func (s *stats) status() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	events := make(map[string]any, len(s.counts.n))
	for k, v := range s.counts.n {
		events[k] = map[string]any{"last": v.last, "count": v.events}
	}
	hosts := make(map[string]any, len(s.hosts))
	for k, v := range s.hosts {
		hosts[k] = map[string]any{"last": v}
	}
	reply := map[string]any{"last": nil, "lag": nil, "events": events, "hosts": hosts}
	if !s.last.IsZero() {
		reply["last"] = float64(s.last.UnixNano()) / 1e9
		reply["lag"] = s.lag
	}
	reply["received"] = s.received
	reply["untracked"] = s.untracked
	if s.hasFiles || s.openFiles > 0 || s.writer.Opened > 0 {
		reply["files"] = map[string]any{
			"written":       s.writer.Written,
			"bytes":         s.writer.Bytes,
			"open":          s.openFiles,
			"opened":        s.writer.Opened,
			"reopened":      s.writer.Reopened,
			"rotations":     s.writer.Rotations,
			"write_errors":  s.writer.WriteErrors,
			"lost_on_error": s.writer.LostOnErrors,
			"errors":        s.writer.errorCounts(),
		}
	}
	return reply
}

func (s *stats) note(batch []event, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range batch {
		ev := &batch[i]
		s.received++
		if !s.counts.add(ev.typ, len(ev.meta)+len(ev.data), ev.end) || !track(s.hosts, ev.host, ev.end) {
			s.untracked++
		}
	}
	if len(batch) > 0 {
		s.last = now
		s.lag = float64(now.UnixNano())/1e9 - batch[len(batch)-1].end
	}
}

func track(m map[string]float64, k string, v float64) bool {
	if _, ok := m[k]; !ok && len(m) >= maxTracked {
		return false
	}
	m[k] = v
	return true
}

// loop is the collection loop: it takes batches from the collector and, for each
// event in order, publishes it on the stream, forwards it and appends it to its file.
// It alone owns the file writer.
type loop struct {
	in     <-chan batch
	now    func() time.Time
	tick   time.Duration // file upkeep interval (flush, idle close, reopen), ≤ 1 s
	files  *fileWriter   // nil without --log-path
	stream *publisher    // nil when the stream is off
	fwd    forwarder     // nil without --forward
	stats  *stats
}

// run processes batches until in is closed, then flushes and closes the files.
func (l *loop) run() error {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	for {
		select {
		case b, ok := <-l.in:
			if !ok {
				if l.files != nil {
					return l.files.Close()
				}
				return nil
			}
			l.handle(b)
		case <-t.C:
			if l.files != nil {
				l.files.Tick(l.now())
				l.noteFiles()
			}
		}
	}
}

func (l *loop) handle(b batch) {
	batch := b.events
	now := l.now()
	for i := range batch {
		ev := &batch[i]
		if l.stream != nil {
			l.stream.Publish(ev.typ, ev.data, ev.slab)
		}
		if l.fwd != nil {
			l.fwd.Forward(ev.meta, ev.data) // a drop is counted by the forwarder
		}
		if l.files != nil {
			l.files.Write(ev.typ, ev.data, now)
		}
	}
	if f, ok := l.fwd.(interface{ Flush() }); ok {
		// A spooling forwarder: hand this batch to the OS, so a killed oxd keeps it.
		f.Flush()
	}
	if l.files != nil && (len(l.in) == 0 || b.done != nil) {
		// Nothing waiting (or a source waits for its acknowledgement): hand the
		// buffers to the OS now rather than at the next tick.
		l.files.Flush()
	}
	// Counted once handled, so STATUS never shows an event as received before it
	// is in its file buffer (and, when oxd is idle, in the file).
	l.stats.note(batch, now)
	l.stats.mu.Lock()
	if l.files != nil {
		l.stats.writer = l.files.stats
		l.stats.openFiles = l.files.OpenFiles()
	}
	l.stats.mu.Unlock()
	if b.done != nil {
		b.done()
	}
	// Files and forwarders copied what they keep; stream queues took their own
	// references.
	releaseAll(b.slabs)
	if b.free != nil {
		clear(batch)
		select {
		case b.free <- batch[:0]:
		default:
		}
	}
}

func (l *loop) noteFiles() {
	l.stats.mu.Lock()
	l.stats.writer = l.files.stats
	l.stats.openFiles = l.files.OpenFiles()
	l.stats.mu.Unlock()
}
