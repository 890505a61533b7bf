package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evdoc"
)

// stageEvents returns about 5 MB of the benchmark's request events, each
// event's MessagePack bytes.
func stageEvents(b *testing.B) [][]byte {
	path := filepath.Join(b.TempDir(), "request-20261120.log")
	writeEventLog(b, path, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 5_000_000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	r := ox.NewReader(bytes.NewReader(data))
	var evs [][]byte
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		evs = append(evs, bytes.Clone(ev))
	}
	return evs
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perCPU runs f as a sub-benchmark and reports its CPU time per operation,
// which on a shared machine says more than the wall clock.
func perCPU(b *testing.B, name string, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		c := cpuTime()
		f(b)
		b.ReportMetric(float64(cpuTime()-c)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkExportStages measures, per event, what the export does to each
// event apart from reading and writing files: building its document,
// shaping it, and compressing the rows.
func BenchmarkExportStages(b *testing.B) {
	evs := stageEvents(b)
	perCPU(b, "build", func(b *testing.B) {
		var bd evdoc.Builder
		for i := 0; i < b.N; i++ {
			if _, err := bd.Build(evs[i%len(evs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	perCPU(b, "build+shape", func(b *testing.B) {
		var bd evdoc.Builder
		sh := newShaper()
		var dst []byte
		for i := 0; i < b.N; i++ {
			if _, err := bd.Prepare(evs[i%len(evs)]); err != nil {
				b.Fatal(err)
			}
			var layout []byte
			dst, layout = bd.AppendLayout(dst[:0])
			dst = sh.applyAt(dst, 0, layout)
		}
	})
	var rows []byte
	var bd evdoc.Builder
	for _, ev := range evs {
		d, _ := bd.Build(ev)
		rows = append(append(rows, d.JSON...), '\n')
	}
	perCPU(b, "gzip", func(b *testing.B) {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		per := len(rows) / len(evs)
		b.SetBytes(int64(per))
		done := 0
		for i := 0; i < b.N; i++ {
			if done == len(evs) {
				zw.Reset(io.Discard)
				done = 0
			}
			zw.Write(rows[done*per : (done+1)*per])
			done++
		}
	})
}
