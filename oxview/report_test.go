package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// runJSON runs oxview with args (and --summary --json) and decodes its output.
func runJSON(t *testing.T, stdin io.Reader, args ...string) (*result, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"--summary", "--json"}, args...), stdin, &out, &errOut)
	var r result
	if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
		t.Fatalf("output is not the JSON summary: %v (run: %v, stderr %q)\n%s", jerr, err, errOut.String(), out.String())
	}
	return &r, err
}

// decodeAll reads every event of the log files with the library's own decoder.
func decodeAll(t *testing.T, files ...string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := ox.NewLogReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r := ox.NewReader(lr)
		for {
			raw, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			v, err := ox.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, v.(map[string]any))
		}
		f.Close()
	}
	return evs
}

// nearestRank is the q-quantile of sorted values by the nearest-rank definition.
func nearestRank(sorted []float64, q float64) float64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

// expected is what a summary must say, computed here from decoded events.
type expected struct {
	count     map[string]int
	durs      map[string][]float64
	errors    int
	errByType map[string]int
	hosts     map[string]int
	parentSec map[string]float64
	subSec    map[string]float64 // sub type -> joined seconds
	subEvents map[string]int
	subOwner  map[string]map[string]bool // sub type -> parent ids having one
}

func expect(evs []map[string]any) expected {
	e := expected{count: map[string]int{}, durs: map[string][]float64{}, errByType: map[string]int{},
		hosts: map[string]int{}, parentSec: map[string]float64{}, subSec: map[string]float64{}, subEvents: map[string]int{},
		subOwner: map[string]map[string]bool{}}
	parents := map[string]string{} // id -> parent type
	for _, ev := range evs {
		typ, _ := ev["type"].(string)
		e.count[typ]++
		s, ok1 := number(ev["start"])
		en, ok2 := number(ev["end"])
		if ok1 && ok2 {
			e.durs[typ] = append(e.durs[typ], en-s)
		}
		if h, ok := ev["host"].(string); ok {
			e.hosts[h]++
		}
		body, _ := ev["body"].(map[string]any)
		if x, ok := body["exception"].(string); ok && strings.TrimSpace(x) != "" {
			e.errors++
			e.errByType[typ]++
		}
		if !strings.Contains(typ, ".") {
			if id, ok := ev["id"].(string); ok {
				parents[id] = typ
			}
			if ok1 && ok2 {
				e.parentSec[typ] += en - s
			}
		}
	}
	for _, ev := range evs {
		typ, _ := ev["type"].(string)
		id, _ := ev["id"].(string)
		p, _, found := strings.Cut(typ, ".")
		if !found || parents[id] != p {
			continue
		}
		s, _ := number(ev["start"])
		en, _ := number(ev["end"])
		e.subSec[typ] += en - s
		e.subEvents[typ]++
		if e.subOwner[typ] == nil {
			e.subOwner[typ] = map[string]bool{}
		}
		e.subOwner[typ][id] = true
	}
	return e
}

// within reports whether got is within rel (relative) of want, give or take
// a float rounding.
func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-9
}

// check compares a summary with what the decoded events say.
func check(t *testing.T, got *result, e expected) {
	t.Helper()
	total := 0
	for _, n := range e.count {
		total += n
	}
	if got.Events != uint64(total) {
		t.Errorf("events = %d, want %d", got.Events, total)
	}
	if len(got.Types) != len(e.count) {
		t.Errorf("%d types, want %d", len(got.Types), len(e.count))
	}
	for _, ty := range got.Types {
		if ty.Count != uint64(e.count[ty.Type]) {
			t.Errorf("%s: count %d, want %d", ty.Type, ty.Count, e.count[ty.Type])
		}
		if ty.Errors != uint64(e.errByType[ty.Type]) {
			t.Errorf("%s: errors %d, want %d", ty.Type, ty.Errors, e.errByType[ty.Type])
		}
		d := slices.Clone(e.durs[ty.Type])
		slices.Sort(d)
		if ty.Duration == nil || len(d) == 0 {
			if ty.Duration != nil || len(d) != 0 {
				t.Errorf("%s: duration %v, want %d durations", ty.Type, ty.Duration, len(d))
			}
			continue
		}
		for _, q := range []struct {
			name string
			got  float64
			q    float64
		}{{"p50", ty.Duration.P50, 0.5}, {"p90", ty.Duration.P90, 0.9}, {"p99", ty.Duration.P99, 0.99}} {
			if want := nearestRank(d, q.q); !within(q.got, want, got.DurationRelError) {
				t.Errorf("%s: %s = %g, want %g within %g", ty.Type, q.name, q.got, want, got.DurationRelError)
			}
		}
		if want := d[len(d)-1]; !within(ty.Duration.Max, want, 1e-12) {
			t.Errorf("%s: max = %g, want %g", ty.Type, ty.Duration.Max, want)
		}
		var sum uint64
		for _, b := range ty.Histogram {
			sum += b.Count
		}
		if sum != uint64(len(d)) {
			t.Errorf("%s: histogram holds %d, want %d", ty.Type, sum, len(d))
		}
	}
	if got.Errors.Count != uint64(e.errors) {
		t.Errorf("errors = %d, want %d", got.Errors.Count, e.errors)
	}
	if len(got.Hosts.Values) != len(e.hosts) {
		t.Errorf("hosts %v, want %v", got.Hosts.Values, e.hosts)
	}
	for _, h := range got.Hosts.Values {
		if h.Count != uint64(e.hosts[h.Value]) || h.Error != 0 {
			t.Errorf("host %s: %d (error %d), want %d", h.Value, h.Count, h.Error, e.hosts[h.Value])
		}
	}
	seen := 0
	for _, j := range got.Subevents {
		if !within(j.Seconds, e.parentSec[j.Parent], 1e-9) {
			t.Errorf("%s: parent seconds %g, want %g", j.Parent, j.Seconds, e.parentSec[j.Parent])
		}
		for _, s := range j.Subs {
			seen++
			if s.Parents != uint64(len(e.subOwner[s.Type])) {
				t.Errorf("%s: in %d parents, want %d", s.Type, s.Parents, len(e.subOwner[s.Type]))
			}
			if s.Events != uint64(e.subEvents[s.Type]) || s.Unjoined != 0 {
				t.Errorf("%s: %d joined, %d not, want %d joined", s.Type, s.Events, s.Unjoined, e.subEvents[s.Type])
			}
			if want := e.subSec[s.Type] / e.parentSec[j.Parent]; !within(s.Share, want, 1e-9) {
				t.Errorf("%s: share %g, want %g", s.Type, s.Share, want)
			}
		}
	}
	if seen != len(e.subEvents) {
		t.Errorf("%d sub-event types joined, want %d (%v)", seen, len(e.subEvents), e.subEvents)
	}
}

func TestSummaryAgreesWithTheFixtures(t *testing.T) {
	daily, _ := filepath.Glob(testenv.Fixture(t, "logs-daily/20261124") + "/*.log")
	zipped, _ := filepath.Glob(testenv.Fixture(t, "logs-zipped/20261123") + "/*")
	if len(daily) < 5 || len(zipped) != 2 {
		t.Fatalf("fixtures missing: %v %v", daily, zipped)
	}
	cases := []struct {
		name  string
		files []string
	}{
		{"daily files", daily},
		{"compressed files", zipped},
		{"two folders", append(slices.Clone(daily), zipped...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runJSON(t, strings.NewReader(""), tc.files...)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, expect(decodeAll(t, tc.files...)))
			if got.Skipped.Count != 0 {
				t.Errorf("skipped %v", got.Skipped)
			}
		})
	}
	t.Run("error message", func(t *testing.T) {
		got, _ := runJSON(t, strings.NewReader(""), daily...)
		m := got.Errors.Messages.Values
		if len(m) != 1 || m[0].Value != "ZeroDivisionError: division by zero" || m[0].Count != 1 {
			t.Errorf("messages %+v, want the traceback's last line once", m)
		}
	})
	t.Run("stdin in file order", func(t *testing.T) {
		// Parents read before their sub-events still join: they wait too.
		var all []byte
		for _, f := range daily {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		got, err := runJSON(t, bytes.NewReader(all))
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, expect(decodeAll(t, daily...)))
	})
}

// The generated set's percentiles, counts, shares and joins are checked both
// against its decoded events and against what the generator put in.
func TestSummaryOfAKnownDistribution(t *testing.T) {
	reqs := genSet(20_000, 1)
	name := filepath.Join(t.TempDir(), "gen.log")
	f, _ := os.Create(name)
	if err := writeGen(f, reqs); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := runJSON(t, strings.NewReader(""), "--by", "path", "--by", "request:response.status_code", name)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expect(decodeAll(t, name)))

	var durs []float64
	var reqSec, dbSec float64
	paths, status := map[string]int{}, map[string]int{}
	for _, r := range reqs {
		d := r.end - r.start
		durs = append(durs, d)
		reqSec += d
		dbSec += r.db
		paths[r.path]++
		status[statusText(r.status)]++
	}
	slices.Sort(durs)
	var req *typeResult
	for i := range got.Types {
		if got.Types[i].Type == "request" {
			req = &got.Types[i]
		}
	}
	if req == nil || req.Count != uint64(len(reqs)) {
		t.Fatalf("request type: %+v", req)
	}
	// Log-normal with median 20 ms: the p50 lands near it.
	if p := req.Duration.P50; !within(p, nearestRank(durs, 0.5), histAlpha) || p < 0.018 || p > 0.022 {
		t.Errorf("p50 %g, want about 0.020 and %g within 1%%", p, nearestRank(durs, 0.5))
	}
	for _, j := range got.Subevents {
		for _, s := range j.Subs {
			if s.Type == "request.db" && !within(s.Share, dbSec/reqSec, 1e-6) {
				t.Errorf("request.db share %g, want %g", s.Share, dbSec/reqSec)
			}
		}
	}
	byVals := func(b byResult) map[string]int {
		m := map[string]int{}
		for _, v := range b.Values {
			m[v.Value] = int(v.Count)
			if v.Error != 0 {
				t.Errorf("%s=%s: error %d on exact counts", b.Field, v.Value, v.Error)
			}
		}
		return m
	}
	if len(got.By) != 2 {
		t.Fatalf("by: %+v", got.By)
	}
	if m := byVals(got.By[0]); !mapsEqual(m, paths) || got.By[0].With != uint64(len(reqs)) || got.By[0].Approximate {
		t.Errorf("by path %v (with %d), want %v", m, got.By[0].With, paths)
	}
	if m := byVals(got.By[1]); !mapsEqual(m, status) || got.By[1].Without != 0 {
		t.Errorf("by status %v, want %v", m, status)
	}
	// p90 per value, against the generator.
	for _, v := range got.By[1].Values {
		var d []float64
		for _, r := range reqs {
			if statusText(r.status) == v.Value {
				d = append(d, r.end-r.start)
			}
		}
		slices.Sort(d)
		if v.P90 == nil || !within(*v.P90, nearestRank(d, 0.9), histAlpha) {
			t.Errorf("status %s: p90 %v, want %g", v.Value, v.P90, nearestRank(d, 0.9))
		}
	}
	msgs := map[string]int{}
	for _, r := range reqs {
		if r.exception != "" {
			lines := strings.Split(strings.TrimSpace(r.exception), "\n")
			msgs[lines[len(lines)-1]]++
		}
	}
	m := map[string]int{}
	for _, v := range got.Errors.Messages.Values {
		m[v.Value] = int(v.Count)
	}
	if !mapsEqual(m, msgs) {
		t.Errorf("messages %v, want %v", m, msgs)
	}
	var perBin uint64
	for _, c := range got.Errors.PerBin {
		perBin += c
	}
	if perBin != got.Errors.Count {
		t.Errorf("errors over time add up to %d, want %d", perBin, got.Errors.Count)
	}
	// Three hours at one bin per minute fit 240 bins.
	if got.Timeline.BinSeconds != 60 || got.Timeline.Bins < 170 || got.Timeline.Bins > 182 {
		t.Errorf("timeline %+v, want about 180 one-minute bins", got.Timeline)
	}
}

func statusText(n int) string { b, _ := json.Marshal(n); return string(b) }

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
