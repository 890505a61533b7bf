package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blueox/ox"
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

// pushForwarder PUSHes events to the next collector with an ox.Sender, which keeps
// its own connection, reconnects with backoff and holds events in a queue bounded in
// bytes while the peer is away; events past the bound are dropped and counted. What
// is in flight when a connection breaks is lost, as with any ZeroMQ PUSH: this mode
// promises no more than the original did.
type pushForwarder struct {
	s        *ox.Sender
	maxBytes int64
	lastErr  atomic.Pointer[string]
}

func newPushForwarder(addr string, maxBytes int64, log *slog.Logger) *pushForwarder {
	f := &pushForwarder{maxBytes: maxBytes}
	errLog := newRateLog(log, 10*time.Second)
	hintLog := newRateLog(log, 10*time.Minute)
	f.s = ox.NewSender(addr, &ox.SenderOptions{
		// The byte bound is the one that matters; the count only sizes the ring.
		QueueSize:  int(max(1024, maxBytes/int64(ox.MetaSize+1))),
		QueueBytes: int(maxBytes),
		OnError: func(err error) {
			s := err.Error()
			f.lastErr.Store(&s)
			errLog.Warn("forward", "forward", "to", addr, "err", err)
			if hint := pushWrongPortHint(err); hint != "" {
				hintLog.Warn("forward-wrong-port", "forward: the target is the wrong kind of port", "to", addr, "err", err, "hint", hint)
			}
		},
	})
	return f
}

func (f *pushForwarder) Forward(meta, data []byte) bool { return f.s.TrySend(meta, data) }

func (f *pushForwarder) Stats() map[string]any {
	st := f.s.Stats()
	m := map[string]any{
		"mode":        "push",
		"target":      f.s.Addr(),
		"connected":   st.Connected,
		"queued":      st.Queued,
		"queue_bytes": st.QueuedBytes,
		"max_bytes":   f.maxBytes,
		"sent":        st.Sent,
		"dropped":     st.Dropped,
		"lost":        st.Lost,
		"reconnects":  st.Reconnects,
	}
	if e := f.lastErr.Load(); e != nil {
		m["last_error"] = *e
	}
	return m
}

func (f *pushForwarder) Close(ctx context.Context) error { return f.s.Close(ctx) }

// pushWrongPortHint returns advice when a plain PUSH forwarder's error shows its
// target is not a collection port (e.g. an oxd --link port, a ROUTER).
func pushWrongPortHint(err error) string {
	peer := ""
	var wrong *ox.WrongPortError
	if errors.As(err, &wrong) {
		peer = wrong.Peer
	} else if s := err.Error(); strings.Contains(s, `peer="`) {
		peer, _, _ = strings.Cut(s[strings.Index(s, `peer="`)+len(`peer="`):], `"`)
	}
	switch peer {
	case "":
		return ""
	case "ROUTER":
		return "the target is a link port (--link, default 3515), which takes only spooled forwarding: add --spool-path to forward there, or point --forward at the collector's collection port (default 3514)"
	case "PULL":
		return ""
	}
	return "the target is not a collection port: point --forward at the collector's collection port (default 3514)"
}
