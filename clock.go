package ox

import (
	"sync/atomic"
	"time"
)

// The event clock reads the monotonic clock once per call and adds it to a wall
// time anchor refreshed every second: half the cost of time.Now, which reads both
// clocks, for the four to six timestamps an event and its timers take. A step of
// the wall clock shows up within a second.
var (
	clockOrigin = time.Now()
	clockAnchor atomic.Pointer[anchor]
)

type anchor struct {
	wall int64         // Unix nanoseconds at mono
	mono time.Duration // since clockOrigin
}

// monoNow returns the monotonic time since clockOrigin.
func monoNow() time.Duration { return time.Since(clockOrigin) }

// unixNano returns the wall time in Unix nanoseconds.
func unixNano() int64 {
	mono := monoNow()
	a := clockAnchor.Load()
	if a == nil || mono-a.mono > time.Second || mono < a.mono {
		t := time.Now()
		a = &anchor{wall: t.UnixNano(), mono: t.Sub(clockOrigin)}
		clockAnchor.Store(a)
	}
	return a.wall + int64(mono-a.mono)
}
