package main

import "math"

// seriesBins is how many time bins a series keeps, whatever the time covered.
const seriesBins = 240

// series counts events over time in seriesBins bins of equal width: one second
// while the events seen fit in 240 seconds, else the next width of binWidths
// that holds them (5 s, 10 s, 30 s, 1 min, 5 min, ... 1 day, then doubling), the
// counts merged, so a month of events costs the same memory as a minute. Bins
// start at multiples of their width from the Unix epoch and each width divides
// the next, so merging never splits a bin.
type series struct {
	start int64 // Unix seconds of the first bin's start
	width int64 // seconds per bin
	bins  [seriesBins]uint64
	used  bool
}

// add counts one event at Unix time t (seconds). Times that are not finite, or
// before 1970 or after 2200, are not counted (they are not real clock readings).
func (s *series) add(t float64) {
	if math.IsNaN(t) || t < 0 || t > 7258118400 {
		return
	}
	sec := int64(t)
	if !s.used {
		s.used, s.width = true, binWidths[0]
		s.start = sec / s.width * s.width
	}
	if sec < s.start || sec >= s.start+seriesBins*s.width {
		lo, hi := sec, sec
		if first, last := s.usedBins(); first >= 0 {
			lo = min(lo, s.start+int64(first)*s.width)
			hi = max(hi, s.start+int64(last)*s.width)
		}
		w := s.width
		for hi/w-lo/w >= seriesBins {
			w = nextWidth(w)
		}
		s.remap(lo/w*w, w)
	}
	s.bins[(sec-s.start)/s.width]++
}

// binWidths are the bin widths in seconds, each a multiple of the one before.
var binWidths = []int64{1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400}

// nextWidth returns the bin width after w.
func nextWidth(w int64) int64 {
	for _, b := range binWidths {
		if b > w {
			return b
		}
	}
	return 2 * w
}

// usedBins returns the first and last non-empty bins, -1 when none is.
func (s *series) usedBins() (first, last int) {
	first, last = -1, -1
	for i, c := range s.bins {
		if c != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// remap moves the bins to start at start, each w wide (the width or a power of
// two times it, so no bin is split); the caller made sure the counts fit.
func (s *series) remap(start, w int64) {
	var nb [seriesBins]uint64
	for i, c := range s.bins {
		if c != 0 {
			nb[(s.start+int64(i)*s.width-start)/w] += c
		}
	}
	s.bins, s.start, s.width = nb, start, w
}

// span returns the used bins: their first start and the counts from the first
// non-empty bin to the last one.
func (s *series) span() (start int64, counts []uint64) {
	if !s.used {
		return 0, nil
	}
	first, last := s.usedBins()
	if first < 0 {
		return 0, nil
	}
	return s.start + int64(first)*s.width, s.bins[first : last+1]
}

// over returns the counts of s in bins of width w (a multiple of s.width, as
// after the same widening) from start for n bins, so several series can be
// drawn on one time axis.
func (s *series) over(start, w int64, n int) []uint64 {
	out := make([]uint64, n)
	if !s.used {
		return out
	}
	for i, c := range s.bins {
		if c == 0 {
			continue
		}
		j := (s.start + int64(i)*s.width - start) / w
		if j >= 0 && j < int64(n) {
			out[j] += c
		}
	}
	return out
}
