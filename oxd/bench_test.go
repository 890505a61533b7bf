package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

// BenchmarkCheckMessage is the per-event check on the collection path.
func BenchmarkCheckMessage(b *testing.B) {
	frames := testenv.WireFrames(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := frames[i%len(frames)]
		if _, _, err := checkMessage([][]byte{f.Meta, f.Data}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoop is the collection loop writing the fixture events to files, in
// batches of 256, with no subscriber and no forwarding.
func BenchmarkLoop(b *testing.B) {
	w, err := newFileWriter(filepath.Join(b.TempDir(), "logs"), 0, newLogger(&testenv.SyncBuffer{}, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	frames := testenv.WireFrames(b)
	evs := make([]event, 0, 256)
	for i := range 256 {
		f := frames[i%len(frames)]
		ev, _, err := checkMessage([][]byte{f.Meta, f.Data})
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, ev)
	}
	l := &loop{now: func() time.Time { return fixtureTime }, files: w, stats: newStats()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(evs) {
		l.handle(batch{events: evs})
	}
}
