package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/testenv"
)

func TestHistogramPercentilesStayWithinTheStatedError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dists := []struct {
		name string
		gen  func() float64
	}{
		{"uniform 1ms-1s", func() float64 { return 0.001 + rng.Float64() }},
		{"log-normal around 20ms", func() float64 { return math.Exp(math.Log(0.02) + rng.NormFloat64()) }},
		{"microseconds to hours", func() float64 { return math.Pow(10, -5.5+rng.Float64()*9) }},
		{"one value", func() float64 { return 0.123456 }},
	}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			h := newHist()
			var vals []float64
			for range 50_000 {
				v := d.gen()
				vals = append(vals, v)
				h.add(v)
			}
			slices.Sort(vals)
			for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
				want := nearestRank(vals, q)
				if got := h.quantile(q); math.Abs(got-want) > histAlpha*want {
					t.Errorf("q%g = %g, want %g within %g", q, got, want, histAlpha)
				}
			}
		})
	}
	t.Run("zero, negative and huge", func(t *testing.T) {
		h := newHist()
		for _, v := range []float64{-1, 0, 1e-9, 5e6, math.NaN(), math.Inf(1)} {
			h.add(v)
		}
		if h.n != 4 || h.quantile(0.5) != 0 || h.quantile(1) != 5e6 || h.min != -1 {
			t.Errorf("n %d, p50 %g, max %g, min %g", h.n, h.quantile(0.5), h.quantile(1), h.min)
		}
	})
}

func TestTopKIsExactUntilFullThenBounded(t *testing.T) {
	t.Run("fewer values than capacity", func(t *testing.T) {
		k := newTopK(10, false)
		for i := range 100 {
			k.add([]byte(fmt.Sprint(i % 7)))
		}
		if !k.exact() || k.maxErr() != 0 {
			t.Fatal("counts marked approximate")
		}
		for _, e := range k.top(10) {
			want := uint64(100 / 7)
			if e.key < fmt.Sprint(100%7) {
				want++
			}
			if e.count != want {
				t.Errorf("%s: %d, want %d", e.key, e.count, want)
			}
		}
	})
	t.Run("heavy hitters among many", func(t *testing.T) {
		k := newTopK(50, false)
		rng := rand.New(rand.NewPCG(1, 2))
		truth := map[string]uint64{}
		for i := range 100_000 {
			key := fmt.Sprint("rare-", rng.IntN(20_000))
			if i%10 < 4 {
				key = fmt.Sprint("hot-", i%4)
			}
			truth[key]++
			k.add([]byte(key))
		}
		if k.exact() {
			t.Fatal("counts not marked approximate")
		}
		bound := k.maxErr()
		if bound != 100_000/50 {
			t.Errorf("bound %d", bound)
		}
		top := k.top(4)
		for _, e := range top {
			if !strings.HasPrefix(e.key, "hot-") {
				t.Errorf("top holds %s", e.key)
			}
			if e.count < truth[e.key] || e.count-truth[e.key] > e.err || e.err > bound {
				t.Errorf("%s: %d (err %d), true %d", e.key, e.count, e.err, truth[e.key])
			}
		}
	})
}

func TestSeriesStaysBoundedOverAMonth(t *testing.T) {
	var s series
	const t0 = 1795510800.0
	n := 0
	for i := 0; i < 30*24*60; i += 7 {
		s.add(t0 + float64(i)*60)
		n++
	}
	s.add(t0 - 3600) // out of order, an hour before
	n++
	start, counts := s.span()
	var sum uint64
	for _, c := range counts {
		sum += c
	}
	if sum != uint64(n) || len(counts) > seriesBins || start > int64(t0-3600) || s.width%60 != 0 {
		t.Errorf("sum %d of %d, %d bins of %ds from %d", sum, n, len(counts), s.width, start)
	}
	s.add(math.NaN())
	s.add(-5)
	if _, c := s.span(); len(c) != len(counts) {
		t.Error("a bad time changed the series")
	}
}

// event builds a data frame.
func frame(t *testing.T, typ string, start, end float64, body map[string]any) []byte {
	t.Helper()
	b, err := ox.AppendValue(nil, map[string]any{"id": "x", "type": typ, "host": "h", "start": start, "end": end, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDamagedInputIsSkippedAndListed(t *testing.T) {
	a := frame(t, "request", 10, 11, map[string]any{"n": int64(1)})
	b := frame(t, "request", 12, 13, map[string]any{"n": int64(2)})
	garbage := []byte{0xc1, 0xc1, 0x00, 0x93, 0x01}
	cases := []struct {
		name    string
		input   []byte
		events  uint64
		skipped []skipRange
	}{
		{"clean", slices.Concat(a, b), 2, nil},
		{"garbage between", slices.Concat(a, garbage, b), 2,
			[]skipRange{{Offset: int64(len(a)), Bytes: int64(len(garbage))}}},
		{"truncated end", slices.Concat(a, b, b[:len(b)-3]), 2,
			[]skipRange{{Offset: int64(len(a) + len(b)), Bytes: int64(len(b) - 3)}}},
		{"cut event then a whole one", slices.Concat(a, b[:7], b), 2,
			[]skipRange{{Offset: int64(len(a)), Bytes: 7}}},
		{"only garbage", garbage, 0, []skipRange{{Offset: 0, Bytes: int64(len(garbage))}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runJSON(t, bytes.NewReader(tc.input))
			if got.Events != tc.events {
				t.Errorf("events %d, want %d", got.Events, tc.events)
			}
			if len(got.Skipped.Ranges) != len(tc.skipped) {
				t.Fatalf("skipped %+v, want %+v", got.Skipped.Ranges, tc.skipped)
			}
			for i, r := range got.Skipped.Ranges {
				if r.Offset != tc.skipped[i].Offset || r.Bytes != tc.skipped[i].Bytes || r.Reason == "" || r.Input != "stdin" {
					t.Errorf("skipped %+v, want %+v", r, tc.skipped[i])
				}
			}
			if (err != nil) != (len(tc.skipped) > 0) || (err != nil && cli.IsUsage(err)) {
				t.Errorf("run: %v", err)
			}
		})
	}
}

func TestReportFlagsRefuseWhatTheyCannotDo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"json alone", []string{"--json"}, "--json goes with"},
		{"by alone", []string{"--by", "path"}, "--by goes with"},
		{"for alone", []string{"--for", "1s"}, "--for goes with"},
		{"json without summary", []string{"--report", "x.html", "--json"}, "--json goes with --summary"},
		{"pretty report", []string{"--summary", "-p"}, "do not print events"},
		{"empty by", []string{"--summary", "--by", "a..b"}, "want FIELD"},
		{"for on stdin", []string{"--summary", "--for", "1s"}, "bounds a live read"},
		{"files and host", []string{"--summary", "-H", "127.0.0.1:1", "f.log"}, "not both"},
		{"error field alone, other spelling", []string{"--error_field", "err"}, "--error-field goes with"},
		{"two outputs on stdout", []string{"--report", "-", "--summary"}, "both write to stdout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, strings.NewReader(""), io.Discard, io.Discard)
			if !cli.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run %v: %v, want a usage error with %q", tc.args, err, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		err := run(context.Background(), []string{"--summary", filepath.Join(t.TempDir(), "nope.log")}, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || cli.IsUsage(err) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run: %v", err)
		}
	})
}

func TestSummaryTextNamesTheNumbers(t *testing.T) {
	daily, _ := filepath.Glob(testenv.Fixture(t, "logs-daily/20261124") + "/*.log")
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"--summary", "--by", "level"}, daily...), strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Events:  8", "request.db", "ZeroDivisionError: division by zero",
		"BY level (2 events with it, 6 without)", "request  request.db", "Damaged:  none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// Many types, hosts and values keep the aggregate bounded and say so.
func TestManyDistinctNamesStayBounded(t *testing.T) {
	var in []byte
	for i := range 2000 {
		ev, _ := ox.AppendValue(nil, map[string]any{"id": fmt.Sprint(i), "type": fmt.Sprint("t", i), "host": fmt.Sprint("h", i),
			"start": 100.0, "end": 100.5, "body": map[string]any{"v": fmt.Sprint(i)}})
		in = append(in, ev...)
	}
	got, err := runJSON(t, bytes.NewReader(in), "--by", "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Types) != maxTypes+1 || !got.TypesBeyondLimit || !got.Hosts.Approximate || !got.By[0].Approximate {
		t.Errorf("%d types (beyond %v), hosts approximate %v, values approximate %v", len(got.Types), got.TypesBeyondLimit, got.Hosts.Approximate, got.By[0].Approximate)
	}
	var total uint64
	for _, ty := range got.Types {
		total += ty.Count
	}
	if total != 2000 {
		t.Errorf("types add up to %d", total)
	}
}

func TestJoinerForgetsTheOldestWhenFull(t *testing.T) {
	j := newJoiner(3)
	for _, id := range []string{"a", "b", "c", "d"} { // d takes a's place
		j.add([]byte(id), "request.db", 0.1, true)
	}
	for _, id := range []string{"b", "c", "a"} {
		j.add([]byte(id), "request", 1, true)
	}
	j.add([]byte("c"), "request.db", 0.2, true) // after its parent
	j.add([]byte("c"), "other.db", 0.2, true)   // another family's sub-event
	j.finish()
	p := j.parents[j.nameIx["request"]]
	db := p.subs[j.nameIx["request.db"]]
	// "a"'s sub-event was forgotten to make room for "d"'s, which never met its
	// parent; "b" and "c" joined, "c" twice.
	if p.parents != 3 || db.events != 3 || db.parents != 2 || math.Abs(db.seconds-0.4) > 1e-12 {
		t.Errorf("parents %d, db events %d in %d parents, %g s", p.parents, db.events, db.parents, db.seconds)
	}
	if j.unjoin["request.db"] != 2 || j.unjoin["other.db"] != 1 {
		t.Errorf("not joined: %v", j.unjoin)
	}
}

func TestBrokenCompressionIsReportedAfterWhatCameBefore(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := range 50 {
		zw.Write(frame(t, "request", float64(100+i), float64(101+i), nil))
	}
	zw.Close()
	b := gz.Bytes()
	b[len(b)-6] ^= 0xff // the gzip trailer's checksum
	name := filepath.Join(t.TempDir(), "request.log.gz")
	os.WriteFile(name, b, 0o644)
	got, err := runJSON(t, strings.NewReader(""), name)
	if got.Events != 50 || len(got.Skipped.ReadErrors) != 1 || !strings.Contains(got.Skipped.ReadErrors[0], "request.log.gz") || err == nil {
		t.Errorf("events %d, read errors %q, run %v", got.Events, got.Skipped.ReadErrors, err)
	}
}

// BenchmarkSummary counts generated events (2.3 per request) from memory, as
// --summary --by path --by request:response_status_code does; ns/op is per event.
func BenchmarkSummary(b *testing.B) {
	var buf bytes.Buffer
	writeGen(&buf, genSet(50_000, 9))
	in := buf.Bytes()
	var events []int // offsets of each event
	for off := 0; off < len(in); {
		n, err := ox.ValueLen(in[off:])
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, off)
		off += n
	}
	by := []byField{{spec: "path", path: []string{"path"}}, {spec: "request:response_status_code", typ: "request", path: []string{"response_status_code"}}}
	s := newSummary("exception", by)
	b.SetBytes(int64(len(in) / len(events)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := events[i%len(events)]
		end := len(in)
		if j := i%len(events) + 1; j < len(events) {
			end = events[j]
		}
		s.add(in[off:end])
	}
}

// Looking for the next event after damage tries every byte; bytes built to
// make each try walk far must not make the search quadratic.
func TestResyncCostStaysLinear(t *testing.T) {
	good := frame(t, "request", 10, 11, map[string]any{"n": int64(1)})
	chain := bytes.Repeat([]byte{0x81, 0xa4, 't', 'y', 'p', 'e'}, 200_000) // maps nested without end
	wide := slices.Concat([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xdc, 0xff, 0xff},
		bytes.Repeat([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0x91, 0x81, 0xa4, 't', 'y', 'p', 'e', 0x01}, 100_000))
	for name, junk := range map[string][]byte{"chain": chain, "wide": wide} {
		t.Run(name, func(t *testing.T) {
			in := slices.Concat(good, []byte{0xc1}, junk, good)
			start := time.Now()
			got, _ := runJSON(t, bytes.NewReader(in))
			if got.Events < 2 || got.Skipped.Count == 0 {
				t.Errorf("events %d, skipped %+v", got.Events, got.Skipped)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("%d bytes of junk took %v", len(junk), took)
			}
			t.Logf("%d bytes of junk: %v", len(junk), time.Since(start))
		})
	}
}

func TestByFieldFindsNestedAndDottedKeys(t *testing.T) {
	var in []byte
	for _, body := range []map[string]any{
		{"response": map[string]any{"status_code": int64(200)}},
		{"response.status_code": int64(404)},
		{"response": map[string]any{"size": int64(1)}, "response.status_code": int64(500)},
		{"response": "not a map"},
		{},
	} {
		in = append(in, frame(t, "request", 1, 2, body)...)
	}
	got, err := runJSON(t, bytes.NewReader(in), "--by", "response.status_code", "--by", "host")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for _, v := range got.By[0].Values {
		m[v.Value] = v.Count
	}
	if len(m) != 3 || m["200"] != 1 || m["404"] != 1 || m["500"] != 1 || got.By[0].Without != 2 {
		t.Errorf("values %v, %d without", m, got.By[0].Without)
	}
	if h := got.By[1].Values; len(h) != 1 || h[0].Value != "h" || h[0].Count != 5 {
		t.Errorf("by host %+v, want the event's own host", h)
	}
}
