package fwdlink

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// inflateBudget bounds the decompressed batch bytes a Receiver holds at once (one
// maximal batch; growing a buffer briefly holds the old one too), over
// all its connections: a deflate bomb of a few KiB inflates to MaxPayload, and a few
// connections sending them at once would otherwise take MaxPayload each.
const inflateBudget = MaxPayload + 1<<20

// budgetWait is how long a batch waits for decompression memory before it is
// refused (and resent by its forwarder later).
var budgetWait = 5 * time.Second

// errBusy: a batch could not be taken for lack of room; the forwarder resends it.
var errBusy = errors.New("fwdlink: busy")

// budget is a count of bytes shared by connections; take waits for room.
type budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int64
	max  int64
}

func newBudget(max int64) *budget {
	b := &budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// take reserves n bytes, waiting up to wait for room; false if there was none.
func (b *budget) take(n int64, wait time.Duration) bool {
	if b == nil {
		return true
	}
	if n > b.max {
		return false
	}
	deadline := time.Now().Add(wait)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.max {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.AfterFunc(left, func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
		b.cond.Wait()
		t.Stop()
	}
	b.used += n
	return true
}

// give returns n bytes taken before.
func (b *budget) give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// inflate decompresses p, at most limit bytes, into a buffer that grows with the
// bytes actually produced; each growth is reserved from b first (nil: no budget).
// It returns the bytes and how much of b they hold; the caller gives that back.
func inflate(p []byte, limit int64, b *budget) ([]byte, int64, error) {
	zr := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(zr)
	zr.(flate.Resetter).Reset(bytes.NewReader(p), nil)
	var out []byte
	held := int64(0)
	fail := func(err error) ([]byte, int64, error) {
		b.give(held)
		return nil, 0, err
	}
	grow := func(n int64) error {
		if !b.take(n, budgetWait) {
			return fmt.Errorf("%w: receiver busy decompressing other batches", errBusy)
		}
		held += n
		nb := make([]byte, len(out), int64(cap(out))+n)
		copy(nb, out)
		out = nb
		return nil
	}
	if err := grow(min(int64(4*len(p))+4096, limit+1)); err != nil {
		return fail(err)
	}
	for {
		if len(out) == cap(out) {
			if int64(len(out)) > limit {
				return fail(fmt.Errorf("%w: payload over %d bytes", ErrFrame, limit))
			}
			if err := grow(min(int64(cap(out)), limit+1-int64(cap(out)))); err != nil {
				return fail(err)
			}
		}
		n, rerr := zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return fail(fmt.Errorf("%w: payload over %d bytes", ErrFrame, limit))
		}
		if rerr == io.EOF {
			return out, held, nil
		}
		if rerr != nil {
			return fail(fmt.Errorf("%w: deflate: %v", ErrFrame, rerr))
		}
	}
}
