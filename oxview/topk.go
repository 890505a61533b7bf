package main

import (
	"container/heap"
	"slices"
)

// topK counts the most frequent values of a stream in bounded memory with the
// Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005). It keeps at most
// capacity values; a new value, when full, takes the place of the least counted
// one and inherits its count. So:
//   - while no value was ever replaced (exact() is true) every count is exact;
//   - after that, a value's count is at most err over its true count, and err is
//     at most n/capacity (n the number of values counted); every value whose
//     true count is above n/capacity is in the table.
//
// Each value can carry a duration histogram (withHist); a value that takes a
// replaced one's place starts an empty histogram, so its percentiles then describe
// the durations seen since it entered the table.
type topK struct {
	capacity int
	withHist bool
	index    map[string]*topEntry
	h        topHeap // least count first
	n        uint64  // values counted
	replaced uint64  // values that took another's place
}

// topEntry is one counted value.
type topEntry struct {
	key   string
	count uint64
	err   uint64 // count may be this much over the true count
	hist  *hist  // durations, when the table keeps them
	pos   int    // index in the heap
}

func newTopK(capacity int, withHist bool) *topK {
	return &topK{capacity: max(capacity, 1), withHist: withHist, index: map[string]*topEntry{}}
}

// add counts one occurrence of key and returns its entry. Looking up a key held
// as []byte does not allocate: string(key) in a map index is not a copy.
func (t *topK) add(key []byte) *topEntry {
	t.n++
	if e, ok := t.index[string(key)]; ok {
		e.count++
		heap.Fix(&t.h, e.pos)
		return e
	}
	if len(t.h) < t.capacity {
		e := &topEntry{key: string(key), count: 1}
		if t.withHist {
			e.hist = newHist()
		}
		t.index[e.key] = e
		heap.Push(&t.h, e)
		return e
	}
	e := t.h[0]
	delete(t.index, e.key)
	t.replaced++
	e.key = string(key)
	e.err = e.count
	e.count++
	if e.hist != nil {
		e.hist.reset()
	}
	t.index[e.key] = e
	heap.Fix(&t.h, 0)
	return e
}

// exact reports whether every count is exact (no value was ever replaced).
func (t *topK) exact() bool { return t.replaced == 0 }

// maxErr is the most any count may be over its true count.
func (t *topK) maxErr() uint64 {
	if t.exact() {
		return 0
	}
	return t.n / uint64(t.capacity)
}

// top returns up to k entries, the most counted first (ties by key).
func (t *topK) top(k int) []*topEntry {
	out := slices.Clone([]*topEntry(t.h))
	slices.SortFunc(out, func(a, b *topEntry) int {
		if a.count != b.count {
			if a.count > b.count {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// topHeap is a min-heap of entries by count.
type topHeap []*topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h topHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}
func (h *topHeap) Push(x any) {
	e := x.(*topEntry)
	e.pos = len(*h)
	*h = append(*h, e)
}
func (h *topHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
