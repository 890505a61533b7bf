package main

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// BenchmarkMetricsScrape is one GET /metrics worth of work (without the HTTP
// exchange) on an oxd that has seen 4 or 1000 event types, at most 20 of them by
// name: what a Prometheus scraping every second costs.
func BenchmarkMetricsScrape(b *testing.B) {
	for _, types := range []int{4, 1000} {
		b.Run(fmt.Sprintf("types=%d", types), func(b *testing.B) {
			w := benchWeb(b, types)
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			for range b.N {
				p := newPromText()
				w.writeMetrics(p)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkPageSample is the live page's sampling, once a second while --http is on.
func BenchmarkPageSample(b *testing.B) {
	for _, types := range []int{4, 1000} {
		b.Run(fmt.Sprintf("types=%d", types), func(b *testing.B) {
			w := benchWeb(b, types)
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			for range b.N {
				w.take(fixtureTime)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchWeb starts (without running) an oxd with files and --http whose STATUS
// knows types types.
func benchWeb(b *testing.B, types int) *web {
	b.Helper()
	o := options{control: "127.0.0.1:0", collect: "127.0.0.1:0", forwardMB: 1, maxEventSize: 1 << 20, maxConns: 8,
		httpAddr: "127.0.0.1:0", httpSet: true, metricsTypes: 20, logPath: b.TempDir()}
	d, err := newDaemon(o, discard{})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		d.collect.l.Close()
		d.control.l.Close()
		d.stream.l.Close()
		d.web.ln.Close()
		d.files.Close()
	})
	for i := range types {
		for range 1 + i%7 {
			d.stats.note([]event{{typ: fmt.Sprintf("type.%d", i), host: "h"}}, fixtureTime)
		}
	}
	return d.web
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkTypeCounts is the per-event cost of counting by type on the collection
// loop, with the fixture events' mix of types.
func BenchmarkTypeCounts(b *testing.B) {
	frames := testenv.WireFrames(b)
	evs := make([]event, 0, len(frames))
	for _, f := range frames {
		ev, _, err := checkMessage([][]byte{f.Meta, f.Data})
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, ev)
	}
	c := newTypeCounts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev := &evs[i%len(evs)]
		c.add(ev.typ, len(ev.meta)+len(ev.data), ev.end)
	}
}

// cpuTime is the process's user and system CPU time, in nanoseconds: steadier than
// wall time on a loaded machine (the benchmark runs on one goroutine).
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
