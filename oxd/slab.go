package main

import "sync/atomic"

// A slab is a block of memory a collection connection reads frames into, many
// frames to a slab, so that the frames of a busy connection cost no allocation of
// their own and the garbage collector has little to do. A slab is reference
// counted: the connection filling it, each batch with frames in it, and each stream
// queue entry pointing into it hold one reference; the last release returns it to
// its pool. Files and forwarders copy what they keep, so they hold none.
//
// Releasing too early would let a frame be overwritten while in use; forgetting a
// release only leaves the slab to the garbage collector.
type slab struct {
	buf  []byte // frames so far; cap is the slab's size
	refs atomic.Int32
	pool *slabPool
}

const (
	slabSize = 64 << 10
	// slabMaxFrame: larger frames get memory of their own, so that one does not
	// leave most of a slab unused.
	slabMaxFrame = slabSize / 4
)

// slabPool keeps released slabs for reuse, up to a bound; past it they are left
// to the garbage collector.
type slabPool struct {
	free chan *slab
}

func newSlabPool(keep int) *slabPool { return &slabPool{free: make(chan *slab, keep)} }

// get returns an empty slab with one reference, the caller's.
func (p *slabPool) get() *slab {
	var s *slab
	select {
	case s = <-p.free:
		s.buf = s.buf[:0]
	default:
		s = &slab{buf: make([]byte, 0, slabSize), pool: p}
	}
	s.refs.Store(1)
	return s
}

func (s *slab) retain() { s.refs.Add(1) }

// release drops one reference; the last one returns s to its pool.
func (s *slab) release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		select {
		case s.pool.free <- s:
		default:
		}
	case n < 0:
		panic("oxd: slab released more often than retained")
	}
}

// slabAlloc hands out frame memory from slabs for one connection, and records the
// slabs the frames of the batch being built live in.
type slabAlloc struct {
	pool  *slabPool
	cur   *slab   // the slab being filled; the allocator holds a reference
	last  *slab   // the slab of the last frame handed out; nil for memory of its own
	slabs []*slab // slabs of the current batch, one reference each
}

// alloc returns n bytes for a frame (its capacity is n, so appends never reach the
// next frame).
func (a *slabAlloc) alloc(n int) []byte {
	if n > slabMaxFrame || a.pool == nil {
		a.last = nil
		return make([]byte, n)
	}
	if a.cur == nil || cap(a.cur.buf)-len(a.cur.buf) < n {
		if a.cur != nil {
			a.cur.release()
		}
		a.cur = a.pool.get()
	}
	if len(a.slabs) == 0 || a.slabs[len(a.slabs)-1] != a.cur {
		a.cur.retain()
		a.slabs = append(a.slabs, a.cur)
	}
	s := a.cur
	off := len(s.buf)
	s.buf = s.buf[:off+n]
	a.last = s
	return s.buf[off : off+n : off+n]
}

// take returns the slabs of the batch built so far, and starts a new batch.
func (a *slabAlloc) take() []*slab {
	s := a.slabs
	a.slabs = nil
	return s
}

// idle lets go of the slab being filled, so an idle connection holds none.
func (a *slabAlloc) idle() {
	if a.cur != nil {
		a.cur.release()
		a.cur = nil
	}
}

// close releases every reference the allocator still holds.
func (a *slabAlloc) close() {
	a.idle()
	releaseAll(a.take())
}

func releaseAll(slabs []*slab) {
	for _, s := range slabs {
		s.release()
	}
}
