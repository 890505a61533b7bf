package main

import (
	"hash/maphash"
	"strings"
)

// joiner joins sub-events (type "request.db") to their parent (type "request")
// by id, to tell how much of the parents' time the sub-events take.
//
// Sub-events are usually sent, and so logged, before their parent; a parent met
// first waits too, for sub-events read after it (a file of parents read before
// the file of their sub-events). The waiting ids live in a ring of max fixed-size
// slots, the oldest overwritten to make room (its sub-events then count as not
// joined), so memory is the same whatever the input: an id is kept as a 64-bit
// hash (two ids of 100,000 waiting share one with odds of about 1 in 10^9), and
// up to pendSubs types of sub-event wait per id (more count as not joined).
type joiner struct {
	seed    maphash.Seed
	ring    []pend
	next    int              // the slot to fill next
	index   map[uint64]int32 // id hash -> slot
	names   []string         // interned type names
	nameIx  map[string]int32 // type name -> index in names
	parents map[int32]*parentJoin
	unjoin  map[string]uint64 // sub-event type -> events never joined
}

// pendSubs is how many sub-event types wait per id.
const pendSubs = 4

// pend is an id waiting: its parent's type when the parent came first, and the
// sub-events seen.
type pend struct {
	hash   uint64
	used   bool
	parent int32 // -1 until the parent is seen
	nsubs  int32
	subs   [pendSubs]subDur
}

// subDur is the sub-events of one type under one id.
type subDur struct {
	typ int32
	n   uint32
	dur float64 // total duration (0 for those without one)
}

// parentJoin is what is known of the sub-events of one parent type.
type parentJoin struct {
	parents uint64  // parent events with a duration
	seconds float64 // their total duration
	subs    map[int32]*subJoin
}

// subJoin is one type of sub-event joined to its parents.
type subJoin struct {
	events  uint64
	parents uint64 // parents having at least one
	seconds float64
}

func newJoiner(max int) *joiner {
	return &joiner{seed: maphash.MakeSeed(), ring: make([]pend, max), index: make(map[uint64]int32, max),
		nameIx: map[string]int32{}, parents: map[int32]*parentJoin{}, unjoin: map[string]uint64{}}
}

// parentType returns the type a sub-event joins ("request" for "request.db"), or
// "" for a top-level type.
func parentType(typ string) string {
	if i := strings.IndexByte(typ, '.'); i > 0 {
		return typ[:i]
	}
	return ""
}

// intern returns the index of a type name (the names are bounded by maxTypes).
func (j *joiner) intern(name string) int32 {
	if i, ok := j.nameIx[name]; ok {
		return i
	}
	i := int32(len(j.names))
	j.names = append(j.names, name)
	j.nameIx[name] = i
	return i
}

func (j *joiner) parentOf(typ int32) *parentJoin {
	p := j.parents[typ]
	if p == nil {
		p = &parentJoin{subs: map[int32]*subJoin{}}
		j.parents[typ] = p
	}
	return p
}

// add takes one event with an id, of a counted type.
func (j *joiner) add(id []byte, typ string, dur float64, timed bool) {
	h := maphash.Bytes(j.seed, id)
	ti := j.intern(typ)
	pt := parentType(typ)
	slot, waiting := j.index[h]
	if pt == "" {
		p := j.parentOf(ti)
		if timed {
			p.parents++
			p.seconds += dur
		}
		if waiting {
			w := &j.ring[slot]
			if w.parent < 0 {
				for i, sd := range w.subs[:w.nsubs] {
					j.credit(ti, sd, true)
					w.subs[i] = subDur{typ: sd.typ} // now a mark: this parent has them
				}
				w.parent = ti
			}
			return
		}
		j.wait(h).parent = ti
		return
	}
	sd := subDur{typ: ti, n: 1, dur: dur}
	if !waiting {
		w := j.wait(h)
		w.subs[0], w.nsubs = sd, 1
		return
	}
	w := &j.ring[slot]
	if w.parent >= 0 {
		// The parent came first: credit at once, remembering which types it has
		// (in subs, with no count) so "parents with" counts each parent once.
		if j.names[w.parent] != pt {
			j.unjoin[typ]++
			return
		}
		first := true
		for _, o := range w.subs[:w.nsubs] {
			first = first && o.typ != ti
		}
		j.credit(w.parent, sd, first)
		if first && w.nsubs < pendSubs {
			w.subs[w.nsubs] = subDur{typ: ti}
			w.nsubs++
		}
		return
	}
	for i := range w.subs[:w.nsubs] {
		if w.subs[i].typ == ti {
			w.subs[i].n++
			w.subs[i].dur += dur
			return
		}
	}
	if w.nsubs == pendSubs {
		j.unjoin[typ]++
		return
	}
	w.subs[w.nsubs] = sd
	w.nsubs++
}

// wait takes the next slot of the ring for id hash h, forgetting what it held.
func (j *joiner) wait(h uint64) *pend {
	w := &j.ring[j.next]
	if w.used {
		j.forget(w)
		delete(j.index, w.hash)
	}
	*w = pend{hash: h, used: true, parent: -1}
	j.index[h] = int32(j.next)
	j.next = (j.next + 1) % len(j.ring)
	return w
}

// forget counts the sub-events of a waiting id that never met their parent.
func (j *joiner) forget(w *pend) {
	if w.parent >= 0 {
		return
	}
	for _, sd := range w.subs[:w.nsubs] {
		j.unjoin[j.names[sd.typ]] += uint64(sd.n)
	}
}

// credit adds the sub-events sd of one parent of type parent; first says they are
// the first of their type for that parent.
func (j *joiner) credit(parent int32, sd subDur, first bool) {
	if parentType(j.names[sd.typ]) != j.names[parent] {
		j.unjoin[j.names[sd.typ]] += uint64(sd.n)
		return
	}
	p := j.parentOf(parent)
	s := p.subs[sd.typ]
	if s == nil {
		s = &subJoin{}
		p.subs[sd.typ] = s
	}
	s.events += uint64(sd.n)
	if first {
		s.parents++
	}
	s.seconds += sd.dur
}

// finish counts the sub-events still waiting as not joined.
func (j *joiner) finish() {
	for i := range j.ring {
		if w := &j.ring[i]; w.used {
			j.forget(w)
			w.used = false
		}
	}
	clear(j.index)
}
