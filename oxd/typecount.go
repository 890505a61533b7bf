package main

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// typeCount is what oxd received of one event type.
type typeCount struct {
	events, bytes uint64
	last          float64 // end time of the last event, Unix seconds (STATUS "last")
}

// typeCounts counts events and bytes per type. The loop adds to it under stats.mu;
// readers take stats.mu too. At most maxTracked types are counted by name; the
// events of types past that are summed in untracked.
type typeCounts struct {
	n         map[string]*typeCount
	untracked typeCount
	bytes     uint64 // every good event's frames

	lastTyp string // the type of the last event, whose count is last: a batch is
	last    *typeCount
}

func newTypeCounts() typeCounts { return typeCounts{n: map[string]*typeCount{}} }

// add counts one event of typ, size bytes (meta and data frames), that ended at
// end. It reports false for a type past maxTracked.
func (c *typeCounts) add(typ string, size int, end float64) bool {
	c.bytes += uint64(size)
	if c.last == nil || typ != c.lastTyp {
		tc := c.n[typ]
		if tc == nil {
			if len(c.n) >= maxTracked {
				c.untracked.events++
				c.untracked.bytes += uint64(size)
				return false
			}
			tc = &typeCount{}
			c.n[typ] = tc
		}
		c.lastTyp, c.last = typ, tc
	}
	c.last.events++
	c.last.bytes += uint64(size)
	c.last.last = end
	return true
}

// otherType is the label of the types not exported by name.
const otherType = "other"

// typeSet is which types /metrics and the live page show by name: at most max of
// them, the busiest when the set filled up. A type once in the set stays for the life
// of the process, so its counter and the "other" counter never go backwards (a type
// leaving the set would move its count into "other" and back, which Prometheus reads
// as counter resets). Types that arrive once the set is full are summed as "other".
type typeSet struct {
	mu      sync.Mutex
	max     int
	members map[string]bool
}

func newTypeSet(max int) *typeSet { return &typeSet{max: max, members: map[string]bool{}} }

// typeSample is one type's counts, by name or as other.
type typeSample struct {
	name string
	typeCount
}

// split returns the counts of the set's types, sorted by name, then "other" (the
// rest, always present). It first admits the busiest types not in the set while
// there is room.
func (s *typeSet) split(counts map[string]typeCount, untracked typeCount) []typeSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.members) < s.max {
		var cand []string
		for name := range counts {
			if !s.members[name] && name != otherType {
				cand = append(cand, name)
			}
		}
		slices.SortFunc(cand, func(a, b string) int {
			if c := cmp.Compare(counts[b].events, counts[a].events); c != 0 {
				return c // busiest first
			}
			return strings.Compare(a, b)
		})
		for _, name := range cand {
			if len(s.members) >= s.max {
				break
			}
			s.members[name] = true
		}
	}
	out := make([]typeSample, 0, len(s.members)+1)
	other := typeSample{name: otherType, typeCount: untracked}
	for name, c := range counts {
		if s.members[name] {
			out = append(out, typeSample{name: name, typeCount: c})
		} else {
			other.events += c.events
			other.bytes += c.bytes
		}
	}
	slices.SortFunc(out, func(a, b typeSample) int { return strings.Compare(a.name, b.name) })
	return append(out, other)
}

// snapshotCounts copies the per-type counts under the stats lock.
func (s *stats) snapshotCounts() (map[string]typeCount, typeCount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]typeCount, len(s.counts.n))
	for k, v := range s.counts.n {
		m[k] = *v
	}
	return m, s.counts.untracked
}
