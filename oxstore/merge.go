package main

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/blueox/ox"
)

// clusters groups time-ordered sources into runs whose periods overlap: files
// of different hosts (or a daily and an hourly file) covering the same time.
// Sources of different clusters never overlap, so clusters can be written one
// after the other.
func clusters(srcs []source) [][]source {
	var out [][]source
	var end time.Time
	for i, s := range srcs {
		var next time.Time
		for _, n := range srcs[i+1:] {
			if n.Host == s.Host && n.Hourly && n.Start.After(s.Start) {
				next = n.Start
				break
			}
		}
		e := s.Start.Add(period(s.LogFile, next))
		if len(out) == 0 || !s.Start.Before(end) {
			out = append(out, []source{s})
			end = e
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], s)
		if e.After(end) {
			end = e
		}
	}
	return out
}

// writeInTimeOrder writes the log data of srcs (in time order) to w. A source
// that overlaps no other is copied as it is; overlapping ones are merged event
// by event on the events' end time (when they were recorded, the order each
// file is written in), holding one event per file.
func writeInTimeOrder(ctx context.Context, srcs []source, w io.Writer, warn func(string, ...any), logf func(string, ...any)) error {
	for _, group := range clusters(srcs) {
		if len(group) == 1 {
			logf("cat: %s", group[0].name)
			if err := catOne(ctx, group[0], w); err != nil {
				return fmt.Errorf("cat %s: %w", group[0].name, err)
			}
			continue
		}
		for _, s := range group {
			logf("cat: %s (merged)", s.name)
		}
		if err := mergeSources(ctx, group, w, warn); err != nil {
			return err
		}
	}
	return nil
}

type stream struct {
	name string
	rc   io.Closer
	r    *ox.Reader
	head []byte // the current event (owned copy)
	at   time.Time
	seq  int // tie-break: the source's place in time order
}

// advance reads the next event; false at the end of the stream. A damaged
// stream ends with a warning, so the rest of the data still comes out.
func (s *stream) advance(warn func(string, ...any)) (bool, error) {
	b, err := s.r.Next()
	if err == io.EOF {
		return false, nil
	}
	var corrupt *ox.CorruptError
	if errors.As(err, &corrupt) {
		warn("cat: %s: %v; the rest of this file is skipped", s.name, err)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cat %s: %w", s.name, err)
	}
	s.head = append(s.head[:0], b...)
	if rec, err := ox.DecodeRecord(b); err == nil {
		s.at = rec.End
		if s.at.IsZero() {
			s.at = rec.Start
		}
	}
	// An event without a readable time keeps the previous one, so it stays
	// where it was in its file.
	return true, nil
}

type streamHeap []*stream

func (h streamHeap) Len() int { return len(h) }
func (h streamHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h streamHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)   { *h = append(*h, x.(*stream)) }
func (h *streamHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

func mergeSources(ctx context.Context, group []source, w io.Writer, warn func(string, ...any)) (err error) {
	var h streamHeap
	var all []*stream
	defer func() {
		for _, s := range all {
			s.rc.Close()
		}
	}()
	for i, src := range group {
		rc, err := src.open(ctx)
		if err != nil {
			return fmt.Errorf("cat %s: %w", src.name, err)
		}
		lr, err := ox.NewLogReader(rc)
		if err != nil {
			rc.Close()
			return fmt.Errorf("cat %s: %w", src.name, err)
		}
		s := &stream{name: src.name, rc: rc, r: ox.NewReader(lr), seq: i}
		all = append(all, s)
		ok, err := s.advance(warn)
		if err != nil {
			return err
		}
		if ok {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	var buf bytes.Buffer
	for h.Len() > 0 {
		s := h[0]
		buf.Write(s.head)
		if buf.Len() >= 64<<10 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
		ok, err := s.advance(warn)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}
