package membudget

import (
	"testing"
	"time"
)

func TestTakeGive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int64
		held     int64 // taken before
		n        int64
		wait     time.Duration
		giveBack bool // held is given back while Take waits
		ok       bool
		used     int64 // after Take
		waited   bool  // a refusal came only after the wait
	}{
		{"fits", 100, 0, 100, 0, false, true, 100, false},
		{"fits beside others", 100, 40, 60, 0, false, true, 100, false},
		{"nothing", 100, 100, 0, 0, false, true, 100, false},
		{"no room in time", 100, 40, 61, 20 * time.Millisecond, false, false, 40, true},
		{"room made while waiting", 100, 40, 61, 5 * time.Second, true, true, 61, false},
		{"more than the whole budget", 100, 0, 101, 5 * time.Second, false, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.max)
			if !b.Take(tc.held, 0) {
				t.Fatalf("taking %d of an empty budget of %d refused", tc.held, tc.max)
			}
			if tc.giveBack {
				time.AfterFunc(10*time.Millisecond, func() { b.Give(tc.held) })
			}
			start := time.Now()
			if ok := b.Take(tc.n, tc.wait); ok != tc.ok {
				t.Fatalf("Take(%d) = %v, want %v", tc.n, ok, tc.ok)
			}
			if took := time.Since(start); !tc.ok && (took >= tc.wait) != tc.waited {
				t.Fatalf("refused after %v, wait %v", took, tc.wait)
			}
			if got := b.Used(); got != tc.used {
				t.Fatalf("Used() = %d, want %d", got, tc.used)
			}
		})
	}
}

func TestNilIsNoBound(t *testing.T) {
	var b *Budget
	if !b.Take(1<<40, 0) {
		t.Fatal("a nil budget refused")
	}
	b.Give(1 << 40)
	if b.Used() != 0 || b.Max() != 0 {
		t.Fatalf("nil budget: Used %d, Max %d", b.Used(), b.Max())
	}
}
