package evdoc

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blueox/ox"
)

func TestBuildPutsTimestampAndDurationFirst(t *testing.T) {
	data, err := ox.AppendValue(nil, map[string]any{"type": "request", "id": "a1", "start": 1795527978.25, "end": 1795527978.5,
		"body": map[string]any{"status": int64(200)}})
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	d, err := b.Build(data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-24T13:46:18.500000Z","duration":0.25,"body":{"status":200},"end":1795527978.5,"id":"a1","start":1795527978.25,"type":"request"}`
	if string(d.JSON) != want {
		t.Fatalf("document\n got %s\nwant %s", d.JSON, want)
	}
	if !json.Valid(d.JSON) || string(d.Type) != "request" {
		t.Fatalf("type %q", d.Type)
	}
	if !d.End.Equal(time.Date(2026, 11, 24, 13, 46, 18, 500000000, time.UTC)) || d.Start.IsZero() {
		t.Fatalf("start %v end %v", d.Start, d.End)
	}
}

func TestBuildRefusesWhatIsNotAnEvent(t *testing.T) {
	var b Builder
	for _, data := range [][]byte{nil, {0x93, 1, 2, 3}, {0x81, 0xa1}} {
		if _, err := b.Build(data); err == nil {
			t.Errorf("Build(% x): no error", data)
		}
	}
}

func TestAppendTimestampMatchesAppendFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		if got, want := string(AppendTimestamp(nil, tm)), tm.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
		if got, want := inISORange(tm), tm.UTC().Year() >= 1 && tm.UTC().Year() <= 9999; got != want {
			t.Fatalf("%v: inISORange %v, want %v", tm, got, want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 13, 46, 18, 500000000, time.FixedZone("x", 3600)),
	} {
		check(tm)
	}
	// Every day's edges from year 1 to 9999, a day apart, and random
	// instants.
	for u := int64(minISOUnix); u < maxISOUnix; u += 86400 * 7 {
		check(time.Unix(u, 0))
		check(time.Unix(u-1, 999999000))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		check(time.Unix(minISOUnix+rng.Int64N(maxISOUnix-minISOUnix), rng.Int64N(1e9)))
	}
	check(time.Unix(minISOUnix-1, 0)) // year 0: out of range
}

func TestAppendMicrosMatchesAppendFloat(t *testing.T) {
	check := func(us float64) {
		t.Helper()
		if got, want := string(appendMicros(nil, us)), string(Options.AppendFloat(nil, us/1e6)); got != want {
			t.Fatalf("%v µs: got %s, want %s", us, got, want)
		}
	}
	for _, us := range []float64{0, math.Copysign(0, -1), 1, -1, 10, 100000, 999999, 1e6, 1e6 + 1, -1.5e6, 302577,
		1<<32*1e6 - 1, -(1<<32*1e6 - 1), 1 << 32 * 1e6, 1e300, math.Inf(1), math.NaN()} {
		check(us)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300000 {
		// Durations of every magnitude, from microseconds to 2^33 s.
		scale := math.Pow(10, float64(rng.IntN(17)))
		us := math.Round(rng.Float64() * scale)
		if rng.IntN(2) == 0 {
			us = -us
		}
		check(us)
	}
}
