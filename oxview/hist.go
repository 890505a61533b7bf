package main

import "math"

// The duration histogram keeps counts in fixed buckets on a logarithmic scale,
// so its memory does not depend on the number of events. Bucket i holds the
// durations in (γ^(i-1+k0), γ^(i+k0)] seconds with γ = (1+α)/(1-α); reporting
// the value 2γ^j/(γ+1) for a bucket is within a relative error α of every
// duration in it (the mapping of DDSketch). With α = 1% and the buckets
// covering 1 µs to 10^6 s, a histogram is 1,389 counters.
//
// Durations at or under histMin (1 µs, including zero and negative ones from
// skewed clocks) share one bucket reported as 0, so their error is under
// 1 µs absolute rather than relative; durations over histMax (about 11.6 days)
// share one reported as the largest duration seen.
const (
	histAlpha = 0.01
	histMin   = 1e-6
	histMax   = 1e6
)

var (
	histGamma   = (1 + histAlpha) / (1 - histAlpha)
	histLnGamma = math.Log(histGamma)
	histK0      = int(math.Ceil(math.Log(histMin)/histLnGamma)) - 1 // bucket 1 holds the durations just over histMin
	histBuckets = int(math.Ceil(math.Log(histMax)/histLnGamma)) - histK0 + 2
)

// hist is a fixed-size log-scale histogram of durations in seconds, with the exact
// count, sum, least and largest value beside it.
type hist struct {
	counts   []uint64 // [0]: ≤ histMin; [len-1]: > histMax
	n        uint64
	sum      float64
	min, max float64
}

func newHist() *hist {
	return &hist{counts: make([]uint64, histBuckets), min: math.Inf(1), max: math.Inf(-1)}
}

// reset empties h, keeping its memory.
func (h *hist) reset() {
	clear(h.counts)
	h.n, h.sum, h.min, h.max = 0, 0, math.Inf(1), math.Inf(-1)
}

// bucket returns the index of the bucket holding d.
func bucket(d float64) int {
	switch {
	case d <= histMin || math.IsNaN(d):
		return 0
	case d > histMax:
		return histBuckets - 1
	}
	i := int(math.Ceil(math.Log(d)/histLnGamma)) - histK0
	// Rounding in Log can put a value at a bucket's edge one off: clamp so
	// the index stays in range (the error bound still holds, by a hair).
	return min(max(i, 1), histBuckets-2)
}

// bucketValue is the value reported for bucket i (see the comment on histAlpha).
func (h *hist) bucketValue(i int) float64 {
	switch i {
	case 0:
		return 0
	case histBuckets - 1:
		return h.max
	}
	return 2 * math.Exp(float64(i+histK0)*histLnGamma) / (histGamma + 1)
}

// bucketUpper is the largest duration bucket i holds.
func bucketUpper(i int) float64 {
	if i == 0 {
		return histMin
	}
	return math.Exp(float64(i+histK0) * histLnGamma)
}

// add counts one duration; NaN and infinities are not durations and are left out.
func (h *hist) add(d float64) {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return
	}
	h.counts[bucket(d)]++
	h.n++
	h.sum += d
	h.min = min(h.min, d)
	h.max = max(h.max, d)
}

// quantile returns the duration at rank ceil(q·n) (the nearest-rank definition)
// within the stated error, clamped to the least and largest seen; 0 when empty.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(max(h.bucketValue(i), h.min), h.max)
		}
	}
	return h.max
}

// mean returns the exact mean duration, 0 when empty.
func (h *hist) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// coarse returns the counts regrouped into buckets per fraction of a decade
// (perDecade of them), from the decade holding the least value to the one holding
// the largest, for drawing: each returned bin is [lo, hi) seconds with its count.
func (h *hist) coarse(perDecade int) []histBin {
	if h.n == 0 {
		return nil
	}
	lo := math.Floor(math.Log10(max(h.min, histMin)) * float64(perDecade))
	hi := math.Ceil(math.Log10(max(h.max, histMin)*1.0000001) * float64(perDecade))
	if hi <= lo {
		hi = lo + 1
	}
	bins := make([]histBin, int(hi-lo))
	for i := range bins {
		bins[i].lo = math.Pow(10, (lo+float64(i))/float64(perDecade))
		bins[i].hi = math.Pow(10, (lo+float64(i)+1)/float64(perDecade))
	}
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		v := h.bucketValue(i)
		if i == 0 {
			v = histMin
		}
		j := int(math.Floor(math.Log10(max(v, histMin))*float64(perDecade)) - lo)
		j = min(max(j, 0), len(bins)-1)
		bins[j].n += c
	}
	return bins
}

// histBin is one bar of a drawn histogram: n durations in [lo, hi) seconds.
type histBin struct {
	lo, hi float64
	n      uint64
}
