package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/blueox/ox"
)

// genRequest is one generated request with what the test knows about it.
type genRequest struct {
	id, host, path string
	status         int
	start, end     float64
	db, http       float64 // sub-event durations, 0 when absent
	exception      string
}

// genSet describes a generated set of requests with known distributions:
// durations log-normal around 20 ms, 80% with a .db sub-event taking 30% of the
// request, 50% with a .httpclient taking 20%, hosts 50/30/20%, paths 60/30/10%,
// status 200, 404 or 500 (with an exception of three kinds), over three hours
// with a rising rate and a burst.
func genSet(n int, seed uint64) []genRequest {
	rng := rand.New(rand.NewPCG(seed, 7))
	const t0 = 1795510800.0 // 2026-11-24 09:00 UTC
	hosts := []string{"web-1", "web-1", "web-1", "web-1", "web-1", "web-2", "web-2", "web-2", "web-3", "web-3"}
	paths := []string{"/hello/{name}", "/hello/{name}", "/hello/{name}", "/hello/{name}", "/hello/{name}", "/hello/{name}", "/quote", "/quote", "/quote", "/login"}
	out := make([]genRequest, n)
	for i := range out {
		f := float64(i) / float64(n)
		at := t0 + 3*3600*math.Sqrt(f)
		if i%7 == 0 { // a burst at 10:30
			at = t0 + 5400 + rng.Float64()*300
		}
		d := math.Exp(math.Log(0.02) + 0.8*rng.NormFloat64())
		r := genRequest{
			id:    fmt.Sprintf("%016x%016x", seed, uint64(i)*0x9e3779b97f4a7c15),
			host:  hosts[i%10],
			path:  paths[(i/10)%10],
			start: at, end: at + d, status: 200,
		}
		switch i % 20 {
		case 3, 9, 15:
			r.status = 404
		case 7:
			r.status = 500
			r.exception = fmt.Sprintf("Traceback (most recent call last):\n  File \"app.py\", line %d\nValueError: bad input %d\n", i, (i/20)%3)
		}
		if i%5 != 0 {
			r.db = 0.3 * d
		}
		if i%2 == 0 {
			r.http = 0.2 * d
		}
		out[i] = r
	}
	return out
}

// writeGen writes the events of reqs as oxd logs them: each request's
// sub-events, then the request.
func writeGen(w io.Writer, reqs []genRequest) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b []byte
	put := func(m map[string]any) error {
		var err error
		b, err = ox.AppendValue(b[:0], m)
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	for _, r := range reqs {
		if r.db > 0 {
			s := r.start + 0.1*(r.end-r.start)
			if err := put(map[string]any{"id": r.id, "type": "request.db", "host": r.host, "pid": int64(42),
				"start": s, "end": s + r.db, "body": map[string]any{"query": "select 1", "row_count": int64(1)}}); err != nil {
				return err
			}
		}
		if r.http > 0 {
			s := r.start + 0.5*(r.end-r.start)
			if err := put(map[string]any{"id": r.id, "type": "request.httpclient", "host": r.host, "pid": int64(42),
				"start": s, "end": s + r.http, "body": map[string]any{"request": map[string]any{"uri": "/quote"}, "response": map[string]any{"code": int64(200)}}}); err != nil {
				return err
			}
		}
		body := map[string]any{"method": "GET", "path": r.path, "response_status_code": int64(r.status),
			"response": map[string]any{"status_code": int64(r.status)}}
		if r.exception != "" {
			body["exception"] = r.exception
		}
		if err := put(map[string]any{"id": r.id, "type": "request", "host": r.host, "pid": int64(42),
			"start": r.start, "end": r.end, "body": body}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// TestWriteBenchmarkInput writes the benchmark's input file when
// OXVIEW_GEN_FILE names it (OXVIEW_GEN_REQUESTS requests, default 870,000,
// which is 2,001,000 events); see BENCHMARKS.md.
func TestWriteBenchmarkInput(t *testing.T) {
	name := os.Getenv("OXVIEW_GEN_FILE")
	if name == "" {
		t.Skip("set OXVIEW_GEN_FILE to write the benchmark input")
	}
	n := 870_000
	if s := os.Getenv("OXVIEW_GEN_REQUESTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 50_000
	for i := 0; i < n; i += chunk {
		reqs := genSet(min(chunk, n-i), uint64(i))
		if err := writeGen(f, reqs); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
