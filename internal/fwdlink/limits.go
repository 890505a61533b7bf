package fwdlink

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/blueox/ox/internal/membudget"
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

// inflate decompresses p, at most limit bytes, in two passes: the first counts the
// inflated size without keeping it (a bomb past the limit costs no memory), the
// second inflates into a buffer of exactly that size, reserved from b first (nil:
// no budget). It returns the bytes and how much of b they hold; the caller gives
// that back.
func inflate(p []byte, limit int64, b *membudget.Budget) ([]byte, int64, error) {
	zr := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(zr)
	zr.(flate.Resetter).Reset(bytes.NewReader(p), nil)
	n, err := io.Copy(io.Discard, io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: deflate: %v", ErrFrame, err)
	}
	if n > limit {
		return nil, 0, fmt.Errorf("%w: payload over %d bytes", ErrFrame, limit)
	}
	if !b.Take(n, budgetWait) {
		return nil, 0, fmt.Errorf("%w: receiver busy decompressing other batches", errBusy)
	}
	out := make([]byte, n)
	zr.(flate.Resetter).Reset(bytes.NewReader(p), nil)
	if _, err := io.ReadFull(zr, out); err != nil {
		b.Give(n)
		return nil, 0, fmt.Errorf("%w: deflate: %v", ErrFrame, err)
	}
	return out, n, nil
}
