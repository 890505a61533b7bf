package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLog logs at most one line per key and interval, and says how many lines it
// held back, so a flood of bad input cannot flood the log. Safe for concurrent use.
type rateLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*rateKey
}

type rateKey struct {
	last       time.Time
	suppressed int
}

func newRateLog(log *slog.Logger, every time.Duration) *rateLog {
	return &rateLog{log: log, every: every, now: time.Now, keys: map[string]*rateKey{}}
}

// Warn logs msg at warning level unless a line with the same key was logged less
// than the interval ago.
func (r *rateLog) Warn(key, msg string, args ...any) {
	r.logAt(slog.LevelWarn, key, msg, args...)
}

// Error is Warn at error level, for events lost.
func (r *rateLog) Error(key, msg string, args ...any) {
	r.logAt(slog.LevelError, key, msg, args...)
}

func (r *rateLog) logAt(level slog.Level, key, msg string, args ...any) {
	now := r.now()
	r.mu.Lock()
	k := r.keys[key]
	if k == nil {
		if len(r.keys) > 1000 { // keys are a fixed set in practice; stay bounded anyway
			clear(r.keys)
		}
		k = &rateKey{}
		r.keys[key] = k
	} else if now.Sub(k.last) < r.every {
		k.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	r.log.Log(context.Background(), level, msg, args...)
}
