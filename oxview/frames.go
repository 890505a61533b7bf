package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
	"github.com/blueox/ox/internal/msgp"
)

// maxFrame is the largest event the report reads, oxd's own limit on an event:
// a longer one is skipped as damaged, so a length a damaged header claims never
// makes the buffer grow past it.
const maxFrame = 16 << 20

// resyncWindow is the longest event found when looking for the next one after
// damage; a longer one there is skipped with the damage (the events after it
// are read whole again).
const resyncWindow = 64 << 10

// frameReader splits a log stream into events like ox.Reader, but does not stop
// at damage: it skips to the next byte where an event starts and reports the
// bytes it skipped (their offset, length and why), so one bad block in a month of
// archives costs that block, not the rest of the month.
type frameReader struct {
	r      io.Reader
	buf    []byte
	start  int   // first unconsumed byte in buf
	offset int64 // stream offset of buf[start]
	eof    bool
	err    error // the underlying reader's error, returned after the bytes read before it

	skipping bool   // looking for the next event after damage
	skipFrom int64  // where the damage starts
	reason   string // what was wrong there
}

// skipRange is a stretch of input that was not read as events.
type skipRange struct {
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
}

func newFrameReader(r io.Reader) *frameReader { return &frameReader{r: r} }

// next returns the raw bytes of the next event (valid until the next call), or a
// skipped range, or io.EOF at the end, or the error of the underlying reader (a
// broken gzip stream, say), after which the reader is done.
func (f *frameReader) next() ([]byte, *skipRange, error) {
	for {
		avail := f.buf[f.start:]
		if len(avail) == 0 && f.eof {
			switch {
			case f.skipping:
				return nil, f.endSkip(), nil
			case f.err != nil:
				return nil, nil, f.err
			}
			return nil, nil, io.EOF
		}
		if len(avail) > 0 {
			n, why, more := frameAt(avail, f.eof, f.skipping)
			switch {
			case n > 0 && f.skipping:
				return nil, f.endSkip(), nil
			case n > 0:
				f.start += n
				f.offset += int64(n)
				return avail[:n:n], nil, nil
			case !more && f.skipping:
				f.start++
				f.offset++
				continue
			case !more:
				f.skipping, f.skipFrom, f.reason = true, f.offset, why
				f.start++
				f.offset++
				continue
			}
		}
		f.fill()
	}
}

// endSkip ends a skip at the current offset and returns its range.
func (f *frameReader) endSkip() *skipRange {
	f.skipping = false
	return &skipRange{Offset: f.skipFrom, Bytes: f.offset - f.skipFrom, Reason: f.reason}
}

// frameAt looks at the value starting b. It returns its length n when it is a
// whole map (and, when strict, one that looks like an event: it has a "type"
// key holding a string); else more when more input could make it one, or why it
// cannot be one.
func frameAt(b []byte, eof, strict bool) (n int, why string, more bool) {
	if c := b[0]; !(c >= 0x80 && c <= 0x8f) && c != 0xde && c != 0xdf {
		return 0, fmt.Sprintf("value starting with 0x%02x is not an event (a map)", c), false
	}
	if strict && !plausibleStart(b) {
		return 0, "not an event", false
	}
	limit := maxFrame
	var err error
	if strict {
		// Every byte after damage is a candidate: walking at most resyncWindow
		// bytes and resyncDepth levels from each bounds the work per byte,
		// whatever the bytes claim.
		limit = resyncWindow
		b = b[:min(len(b), resyncWindow+1)]
		n, err = shallowLen(b, resyncDepth)
	} else {
		n, err = ox.ValueLen(b)
	}
	switch {
	case err == nil && n > limit:
		return 0, "event longer than 16 MiB", false
	case err == nil:
		if strict && !looksLikeEvent(b[:n]) {
			return 0, "not an event", false
		}
		return n, "", false
	case errors.Is(err, ox.ErrTruncated):
		if eof {
			return 0, "truncated: the input ends inside an event", false
		}
		if len(b) > limit {
			return 0, "event longer than 16 MiB", false
		}
		return 0, "", true
	}
	return 0, "malformed: " + err.Error(), false
}

// resyncDepth is the deepest nesting of an event found after damage.
const resyncDepth = 16

// errTooDeep reports a value nested deeper than resyncDepth.
var errTooDeep = errors.New("nested too deep")

// shallowLen is ox.ValueLen for values nested at most maxDepth levels: deeper
// ones are an error, so a candidate after damage cannot make the search walk a
// long chain of one-member maps from every byte.
func shallowLen(b []byte, maxDepth int) (int, error) {
	pos := 0
	need := make([]int, 1, maxDepth+1) // values still to read, per level
	need[0] = 1
	for len(need) > 0 {
		top := len(need) - 1
		if need[top] == 0 {
			need = need[:top]
			continue
		}
		need[top]--
		h, err := msgp.ReadHeader(b[pos:])
		if err != nil {
			return 0, err
		}
		pos += h.Size + h.Payload()
		if pos > len(b) {
			return 0, ox.ErrTruncated
		}
		n := 0
		switch h.Kind {
		case msgp.Array:
			n = h.N
		case msgp.Map:
			n = 2 * h.N
		}
		if n == 0 {
			continue
		}
		if len(need) > maxDepth {
			return 0, errTooDeep
		}
		if n > len(b)-pos { // each value takes a byte at least
			return 0, ox.ErrTruncated
		}
		need = append(need, n)
	}
	return pos, nil
}

// plausibleStart reports whether b may start an event, cheaply, before the
// whole value is walked: a map of 1 to 64 members whose first key is one a
// BlueOx event has. Looking for the next event after damage tries every byte,
// so this keeps the cost per byte small whatever the damaged bytes hold.
func plausibleStart(b []byte) bool {
	h, err := msgp.ReadHeader(b)
	if err != nil || h.Kind != msgp.Map || h.N < 1 || h.N > 64 || len(b) < h.Size+1 {
		return err != nil && errors.Is(err, ox.ErrTruncated) // too short to tell yet
	}
	k, ok := evjson.Text(b[h.Size:])
	if !ok {
		kh, err := msgp.ReadHeader(b[h.Size:])
		// A key cut by the end of the buffer may still be one.
		return err != nil && errors.Is(err, ox.ErrTruncated) || (kh.Kind == msgp.Str && len(b) < h.Size+kh.Size+kh.N)
	}
	switch string(k) {
	case "id", "type", "host", "pid", "start", "end", "body":
		return true
	}
	return false
}

// looksLikeEvent reports whether the map raw has a "type" key holding a string,
// which random bytes after damage rarely do.
func looksLikeEvent(raw []byte) bool {
	ok := false
	eachField(raw, func(k, v []byte) bool {
		if string(k) == "type" {
			_, ok = evjson.Text(v)
			return false
		}
		return true
	})
	return ok
}

// fill reads more bytes, at least as many again as are buffered. An error ends
// the input like its end does (the bytes read with it are kept), and is kept for
// next to return after them.
func (f *frameReader) fill() {
	if f.start > 0 {
		n := copy(f.buf, f.buf[f.start:])
		f.buf = f.buf[:n]
		f.start = 0
	}
	want := max(64<<10, len(f.buf))
	if cap(f.buf)-len(f.buf) < want {
		nb := make([]byte, len(f.buf), len(f.buf)+want)
		copy(nb, f.buf)
		f.buf = nb
	}
	n, err := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
	f.buf = f.buf[:len(f.buf)+n]
	if err != nil {
		f.eof = true
		if err != io.EOF {
			f.err = err
		}
	}
}

// eachField calls fn with the raw key and value of each member of the map raw
// (which ox.ValueLen accepted) until fn returns false. Keys that are neither str
// nor bin are passed as their raw bytes, which match no field name.
func eachField(raw []byte, fn func(k, v []byte) bool) {
	h, err := msgp.ReadHeader(raw)
	if err != nil || h.Kind != msgp.Map {
		return
	}
	pos := h.Size
	for range h.N {
		kn, err := ox.ValueLen(raw[pos:])
		if err != nil {
			return
		}
		k := raw[pos : pos+kn]
		pos += kn
		vn, err := ox.ValueLen(raw[pos:])
		if err != nil {
			return
		}
		v := raw[pos : pos+vn]
		pos += vn
		if t, ok := evjson.Text(k); ok {
			k = t
		}
		if !fn(k, v) {
			return
		}
	}
}
