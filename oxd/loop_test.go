package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestBatchDoneRunsOnceTheEventsAreInTheFile is the hook an acknowledging receiver
// uses: when done runs, the batch's bytes are in the file.
func TestBatchDoneRunsOnceTheEventsAreInTheFile(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	in := make(chan batch, 2)
	l := &loop{in: in, now: func() time.Time { return fixtureTime }, tick: time.Hour, files: w, stats: newStats()}
	finished := make(chan error, 1)
	go func() { finished <- l.run() }()

	path := filepath.Join(dir, "20261124", "t-20261124.log")
	seen := make(chan string, 2)
	for i := range 2 {
		data := []byte{0x80 + byte(i)} // stand-ins for data frames
		evs := []event{{typ: "t", data: data, host: "h"}}
		in <- batch{events: evs, done: func() {
			b, _ := os.ReadFile(path)
			seen <- string(b)
		}}
		got := <-seen
		if len(got) != i+1 || got[i] != data[0] {
			t.Fatalf("done of batch %d saw %q", i, got)
		}
	}
	close(in)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
}

func TestStatusTracksABoundedNumberOfNames(t *testing.T) {
	s := newStats()
	evs := make([]event, 0, maxTracked+10)
	for i := range maxTracked + 10 {
		evs = append(evs, event{typ: "t" + strconv.Itoa(i), host: "h"})
	}
	s.note(evs, fixtureTime)
	st := s.status()
	if n := len(st["events"].(map[string]any)); n != maxTracked {
		t.Fatalf("%d types tracked, want %d", n, maxTracked)
	}
	if st["untracked"].(uint64) != 10 || st["received"].(uint64) != maxTracked+10 {
		t.Fatalf("untracked %v received %v", st["untracked"], st["received"])
	}
}
