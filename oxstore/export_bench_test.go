package main

import (
	"bufio"
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/blueox/ox"
)

// writeEventLog writes about size bytes of request events, each like a web
// request's (endpoint, status, sizes, user agent, timings), spread over the
// day of first, to path, and returns the number of events.
func writeEventLog(tb testing.TB, path string, first time.Time, size int64) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(7, 8))
	agents := []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "python-requests/2.31"}
	var n, written int64
	var buf []byte
	base := float64(first.Unix())
	for written < size {
		end := base + float64(written)/float64(size)*86400
		body := map[string]any{
			"path":       endpoints[rng.IntN(len(endpoints))],
			"method":     "GET",
			"response":   map[string]any{"status": []int64{200, 200, 200, 404, 500}[rng.IntN(5)], "size": int64(rng.IntN(100000))},
			"user_agent": agents[rng.IntN(len(agents))],
			"user":       fmt.Sprintf("u%d", rng.IntN(10000)),
			"db_time":    rng.Float64() / 10,
			"tags":       []any{"web", "v2"},
		}
		buf, err = ox.AppendValue(buf[:0], map[string]any{"type": "request", "id": fmt.Sprintf("%032x", n), "host": "web1",
			"pid": int64(4242), "start": end - rng.Float64(), "end": end, "body": body})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(buf)
		written += int64(len(buf))
		n++
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkExport300MB exports one 300 MB plain log file (about a million
// request events) to a local folder with `oxstore export --local` in a child
// process limited to one core (GOMAXPROCS=1, or $OXSTORE_BENCH_PROCS), and
// reports events/s, MB/s of log data and the child's peak RSS. Run it on its
// own:
//
//	go test -run '^$' -bench Export300MB -benchtime 1x -count 5 ./oxstore/
func BenchmarkExport300MB(b *testing.B) {
	h := newHarness(b, false)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	h.writeLog("request-20261120.log", nil, now)
	file := filepath.Join(h.logPath, "20261120", "request-20261120.log")
	events := writeEventLog(b, file, day, benchSize)
	// OXSTORE_BENCH_PROCS=2 lets the row builder and the compressors run
	// on two cores.
	procs := cmp.Or(os.Getenv("OXSTORE_BENCH_PROCS"), "1")
	b.SetBytes(benchSize)
	b.ResetTimer()
	var peak int64
	var cpu, wall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dest := b.TempDir()
		b.StartTimer()
		start := time.Now()
		peak = max(peak, runChild(b, h, nil, []string{"GOMAXPROCS=" + procs},
			"export", "request", "--local", "--start", "20261120", "--to", dest))
		wall += time.Since(start)
		cpu += childCPU
	}
	b.StopTimer()
	n := float64(events) * float64(b.N)
	b.ReportMetric(n/wall.Seconds(), "events/s")
	// On a shared machine the wall clock counts the time others held the
	// core; the child's own CPU time does not.
	b.ReportMetric(n/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(benchSize)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// childCPU is the user and system CPU time of the last runChild.
var childCPU time.Duration

// BenchmarkExportInProcess exports a smaller generated log (30 MB, or
// $OXSTORE_BENCH_MB) in the test process itself, so that -cpuprofile and
// -memprofile see the export's own code:
//
//	go test -run '^$' -bench ExportInProcess -benchtime 3x -cpuprofile cpu.out ./oxstore/
func BenchmarkExportInProcess(b *testing.B) {
	size := int64(30_000_000)
	if mb, err := strconv.Atoi(os.Getenv("OXSTORE_BENCH_MB")); err == nil && mb > 0 {
		size = int64(mb) * 1_000_000
	}
	h := newHarness(b, false)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	h.writeLog("request-20261120.log", nil, now)
	file := filepath.Join(h.logPath, "20261120", "request-20261120.log")
	events := writeEventLog(b, file, day, size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dest := b.TempDir()
		b.StartTimer()
		h.mustRun("export", "request", "--local", "--start", "20261120", "--to", dest)
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
