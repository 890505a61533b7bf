package main

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// result is the aggregate in the form --summary --json prints and the report
// draws. Durations are in seconds, times in Unix seconds and RFC 3339 (UTC).
type result struct {
	Inputs            []string     `json:"inputs"`
	Events            uint64       `json:"events"`
	Untyped           uint64       `json:"untyped_events,omitempty"`
	First             string       `json:"first,omitempty"`
	Last              string       `json:"last,omitempty"`
	FirstUnix         float64      `json:"first_unix,omitempty"`
	LastUnix          float64      `json:"last_unix,omitempty"`
	DurationRelError  float64      `json:"duration_relative_error"`
	Timeline          timeline     `json:"timeline"`
	Types             []typeResult `json:"types"`
	Hosts             topResult    `json:"hosts"`
	EventsWithoutHost uint64       `json:"events_without_host,omitempty"`
	By                []byResult   `json:"by,omitempty"`
	Errors            errorResult  `json:"errors"`
	Subevents         []joinResult `json:"subevents"`
	Skipped           skipResult   `json:"skipped"`
	TypesBeyondLimit  bool         `json:"types_beyond_limit,omitempty"`
	JoinWaitLimit     int          `json:"join_wait_limit"`
	TopValuesCapacity int          `json:"top_values_capacity"`
}

// timeline is the time axis every per-time count shares: Bins counts from Start,
// each BinSeconds long.
type timeline struct {
	Start      int64 `json:"start_unix"`
	BinSeconds int64 `json:"bin_seconds"`
	Bins       int   `json:"bins"`
}

type typeResult struct {
	Type      string        `json:"type"`
	Count     uint64        `json:"count"`
	Timed     uint64        `json:"with_duration"`
	Errors    uint64        `json:"errors"`
	Duration  *durResult    `json:"duration,omitempty"`
	PerBin    []uint64      `json:"per_bin"`
	Histogram []histBinJSON `json:"histogram,omitempty"`
}

// durResult summarises durations: exact least, largest and mean, percentiles
// within duration_relative_error.
type durResult struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type histBinJSON struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count uint64  `json:"count"`
}

// topResult is a top-k table. When Approximate, a count may be up to its Error
// over the true count (MaxError at most), and p90s describe the durations seen
// since the value entered the table.
type topResult struct {
	Approximate bool          `json:"approximate"`
	MaxError    uint64        `json:"max_error"`
	Total       uint64        `json:"total"`
	Distinct    int           `json:"distinct_held"`
	Values      []valueResult `json:"values"`
}

type valueResult struct {
	Value string   `json:"value"`
	Count uint64   `json:"count"`
	Error uint64   `json:"error,omitempty"`
	Share float64  `json:"share"`
	P90   *float64 `json:"p90,omitempty"`
}

type byResult struct {
	Field   string `json:"field"`
	Type    string `json:"type,omitempty"`
	With    uint64 `json:"events_with_field"`
	Without uint64 `json:"events_without_field"`
	topResult
}

type errorResult struct {
	Field    string      `json:"field"`
	Count    uint64      `json:"count"`
	PerBin   []uint64    `json:"per_bin"`
	ByType   []typeCount `json:"by_type"`
	Messages topResult   `json:"messages"`
}

type typeCount struct {
	Type  string `json:"type"`
	Count uint64 `json:"count"`
}

// joinResult tells where the time of one parent type goes.
type joinResult struct {
	Parent  string      `json:"parent"`
	Parents uint64      `json:"parents_with_duration"`
	Seconds float64     `json:"parent_seconds"`
	Subs    []subResult `json:"subs"`
}

// subResult is one sub-event type: Share is its total duration over the parents'.
type subResult struct {
	Type     string  `json:"type"`
	Events   uint64  `json:"events"`
	Parents  uint64  `json:"parents_with"`
	Seconds  float64 `json:"seconds"`
	Share    float64 `json:"share"`
	Unjoined uint64  `json:"unjoined"`
}

type skipResult struct {
	Count      uint64      `json:"count"`
	Bytes      int64       `json:"bytes"`
	Ranges     []skipInput `json:"ranges"`
	ReadErrors []string    `json:"read_errors,omitempty"`
}

// result builds the result of what was counted.
func (s *summary) result() *result {
	s.join.finish()
	r := &result{
		Inputs:            s.inputs,
		Events:            s.events,
		Untyped:           s.untyped,
		DurationRelError:  histAlpha,
		EventsWithoutHost: s.noHost,
		TypesBeyondLimit:  s.types[otherTypes] != nil,
		JoinWaitLimit:     maxJoinWait,
		TopValuesCapacity: topCapacity,
		Skipped: skipResult{Count: s.skipCount, Bytes: s.skipBytes,
			Ranges: append([]skipInput{}, s.skips...), ReadErrors: s.readErrors},
	}
	if s.timed {
		r.FirstUnix, r.LastUnix = s.first, s.last
		r.First, r.Last = unixTime(s.first), unixTime(s.last)
	}
	start, counts := s.times.span()
	r.Timeline = timeline{Start: start, BinSeconds: s.times.width, Bins: len(counts)}
	perBin := func(x *series) []uint64 {
		return x.over(start, max(s.times.width, 1), len(counts))
	}
	for _, t := range s.types {
		tr := typeResult{Type: t.name, Count: t.count, Timed: t.dur.n, Errors: t.errors, PerBin: perBin(&t.times)}
		if t.dur.n > 0 {
			tr.Duration = durOf(t.dur)
			for _, b := range t.dur.coarse(5) {
				tr.Histogram = append(tr.Histogram, histBinJSON{Lo: b.lo, Hi: b.hi, Count: b.n})
			}
		}
		r.Types = append(r.Types, tr)
	}
	slices.SortFunc(r.Types, func(a, b typeResult) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Type, b.Type))
	})
	r.Hosts = topOf(s.hosts, topShown)
	for _, b := range s.by {
		r.By = append(r.By, byResult{Field: b.field.spec, Type: b.field.typ, With: b.with, Without: b.without,
			topResult: topOf(b.top, topShown)})
	}
	r.Errors = errorResult{Field: s.errSpec, Count: s.errors, PerBin: perBin(&s.errTimes),
		Messages: topOf(s.errMsgs, topShown), ByType: []typeCount{}}
	for _, t := range r.Types {
		if t.Errors > 0 {
			r.Errors.ByType = append(r.Errors.ByType, typeCount{t.Type, t.Errors})
		}
	}
	r.Subevents = []joinResult{}
	for pi, p := range s.join.parents {
		name := s.join.names[pi]
		jr := joinResult{Parent: name, Parents: p.parents, Seconds: p.seconds}
		for ti, sj := range p.subs {
			typ := s.join.names[ti]
			sr := subResult{Type: typ, Events: sj.events, Parents: sj.parents, Seconds: sj.seconds,
				Unjoined: s.join.unjoin[typ]}
			if p.seconds > 0 {
				sr.Share = sj.seconds / p.seconds
			}
			jr.Subs = append(jr.Subs, sr)
		}
		// Sub-events that never met a parent still say they exist.
		for typ, n := range s.join.unjoin {
			if ti, ok := s.join.nameIx[typ]; parentType(typ) == name && (!ok || p.subs[ti] == nil) {
				jr.Subs = append(jr.Subs, subResult{Type: typ, Unjoined: n})
			}
		}
		if len(jr.Subs) == 0 {
			continue
		}
		slices.SortFunc(jr.Subs, func(a, b subResult) int {
			return cmp.Or(cmp.Compare(b.Seconds, a.Seconds), cmp.Compare(a.Type, b.Type))
		})
		r.Subevents = append(r.Subevents, jr)
	}
	slices.SortFunc(r.Subevents, func(a, b joinResult) int {
		return cmp.Or(cmp.Compare(b.Seconds, a.Seconds), cmp.Compare(a.Parent, b.Parent))
	})
	return r
}

func durOf(h *hist) *durResult {
	return &durResult{Min: h.min, P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99),
		Max: h.max, Mean: h.mean()}
}

// topOf returns the k most counted values of t.
func topOf(t *topK, k int) topResult {
	tr := topResult{Approximate: !t.exact(), MaxError: t.maxErr(), Total: t.n, Distinct: len(t.h), Values: []valueResult{}}
	for _, e := range t.top(k) {
		v := valueResult{Value: e.key, Count: e.count, Error: e.err}
		if t.n > 0 {
			v.Share = float64(e.count) / float64(t.n)
		}
		if e.hist != nil && e.hist.n > 0 {
			p := e.hist.quantile(0.9)
			v.P90 = &p
		}
		tr.Values = append(tr.Values, v)
	}
	return tr
}

// unixTime formats Unix seconds as RFC 3339 in UTC, to the millisecond.
func unixTime(t float64) string {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return ""
	}
	sec, frac := math.Modf(t)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
