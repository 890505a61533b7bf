package main

import "math"

// seriesBins is how many time bins a series keeps, whatever the time covered.
const seriesBins = 240

// series counts events over time in seriesBins bins of equal width: one minute
// while the events seen fit in 240 minutes, else the width doubles (two, four,
// eight minutes, ...) as often as needed, the counts merged, so a month of events
// costs the same memory as an hour. Bins start at multiples of their width from
// the Unix epoch, so merging never splits a bin.
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
		s.used, s.width = true, 60
		s.start = sec / s.width * s.width
	}
	for sec < s.start || sec >= s.start+seriesBins*s.width {
		s.widen(sec)
	}
	s.bins[(sec-s.start)/s.width]++
}

// widen doubles the bin width, keeping the bins aligned, to make room for sec.
func (s *series) widen(sec int64) {
	w := s.width * 2
	lo := min(s.start, sec) / w * w
	var nb [seriesBins]uint64
	for i, c := range s.bins {
		if c != 0 {
			nb[(s.start+int64(i)*s.width-lo)/w] += c
		}
	}
	s.bins, s.start, s.width = nb, lo, w
}

// span returns the used bins: their first start and the counts from the first
// non-empty bin to the last one.
func (s *series) span() (start int64, counts []uint64) {
	if !s.used {
		return 0, nil
	}
	first, last := -1, -1
	for i, c := range s.bins {
		if c != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
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
