// Package membudget is a count of bytes shared by many connections, bounding the
// memory they hold together: a reader that is about to hold more takes it from the
// budget first, waiting a while for room, and gives it back once done. It bounds
// what hostile or slow peers can make a server hold in total, however many
// connections they open; zmtp's incomplete messages and fwdlink's received and
// decompressed frames both draw on one.
package membudget

import (
	"sync"
	"time"
)

// Budget is a count of bytes, of at most a fixed maximum, shared by goroutines.
// A nil *Budget is no bound at all: Take always succeeds, Give does nothing.
type Budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int64
	max  int64
}

// New returns a budget of max bytes, none of them taken.
func New(max int64) *Budget {
	b := &Budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Take reserves n bytes, waiting up to wait for others to give back enough; it
// reports false, having reserved nothing, if there was no room in time. More than
// the whole budget is refused at once.
func (b *Budget) Take(n int64, wait time.Duration) bool {
	if b == nil {
		return true
	}
	if n > b.max {
		return false
	}
	deadline := time.Now().Add(wait)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.max {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.AfterFunc(left, func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
		b.cond.Wait()
		t.Stop()
	}
	b.used += n
	return true
}

// Give returns n bytes taken before, waking whoever waits for room.
func (b *Budget) Give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Used reports the bytes taken now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Max reports the budget's size.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}
