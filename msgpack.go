package ox

import (
	"github.com/blueox/ox/internal/msgp"

	"fmt"
	"math"
	"strconv"
)

// This file holds a small MessagePack codec written for untrusted input: it never
// allocates more than the bytes actually present justify, never recurses deeper than
// maxDepth, and reports a cut-off value as ErrTruncated so a stream reader can tell
// "wait for more bytes" from "corrupt".

// ErrTruncated reports input that ends inside a MessagePack value.
var ErrTruncated = msgp.ErrTruncated

// maxDepth bounds the nesting Decode accepts; deeper input is rejected rather than
// risking the stack.
const maxDepth = 256

// maxPrealloc bounds the elements Decode makes room for from a count it has not yet
// seen the values of.
const maxPrealloc = 1024

// Ext is a MessagePack extension value other than a timestamp.
type Ext struct {
	Type int8
	Data []byte
}

// ValueLen returns the length in bytes of the first MessagePack value in b. It
// returns ErrTruncated when b ends inside the value, and another error when the
// bytes are not MessagePack. It runs in time linear in the bytes it reads and
// allocates nothing.
func ValueLen(b []byte) (int, error) {
	pos := 0
	pending := 1 // values still to skip
	for pending > 0 {
		// The one-byte headers most events are made of, decoded inline; the
		// checks are those below.
		if pos < len(b) {
			c := b[pos]
			size, more := 0, 0
			switch {
			case c <= 0x7f || c >= 0xe0: // fixint
				size = 1
			case c >= 0xa0 && c <= 0xbf: // fixstr
				size = 1 + int(c&0x1f)
			case c <= 0x8f: // fixmap
				size, more = 1, 2*int(c&0x0f)
			case c == 0xcb: // float 64
				size = 9
			}
			if size > 0 {
				pending += more - 1
				if pending > len(b)-pos {
					return 0, ErrTruncated
				}
				pos += size
				if pos > len(b) {
					return 0, ErrTruncated
				}
				continue
			}
		}
		h, err := msgp.ReadHeader(b[pos:])
		if err != nil {
			return 0, err
		}
		pending--
		switch h.Kind {
		case msgp.Array:
			pending += h.N
		case msgp.Map:
			pending += 2 * h.N
		}
		// Every pending value takes at least one byte: a count beyond what is left
		// can only be a cut-off (or lying) header, and capping it keeps the
		// arithmetic far from overflow.
		if pending > len(b)-pos {
			return 0, ErrTruncated
		}
		pos += h.Size + h.Payload()
		if pos > len(b) {
			return 0, ErrTruncated
		}
	}
	return pos, nil
}

// Decode decodes the single MessagePack value b holds (trailing bytes are an error).
// Strings become string, binaries []byte, integers int64 (uint64 above
// math.MaxInt64), floats float64, arrays []any, maps map[string]any (keys that are
// not strings are written in decimal or with fmt), timestamps time.Time, other
// extensions Ext.
func Decode(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("ox: %d bytes after the MessagePack value", len(b)-d.pos)
	}
	return v, nil
}

type decoder struct {
	b   []byte
	pos int
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("ox: MessagePack nested deeper than %d", maxDepth)
	}
	h, err := msgp.ReadHeader(d.b[d.pos:])
	if err != nil {
		return nil, err
	}
	start := d.pos
	d.pos += h.Size
	rest := len(d.b) - d.pos
	if p := h.Payload(); p > rest {
		return nil, ErrTruncated
	}
	switch h.Kind {
	case msgp.Nil:
		return nil, nil
	case msgp.Bool:
		return d.b[start] == 0xc3, nil
	case msgp.Uint:
		if h.N == 0 {
			return int64(d.b[start]), nil
		}
		u := d.uint(h.N)
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case msgp.Int:
		if h.N == 0 {
			return int64(int8(d.b[start])), nil
		}
		u := d.uint(h.N)
		switch h.N {
		case 1:
			return int64(int8(u)), nil
		case 2:
			return int64(int16(u)), nil
		case 4:
			return int64(int32(u)), nil
		}
		return int64(u), nil
	case msgp.Float32:
		return float64(math.Float32frombits(uint32(d.uint(4)))), nil
	case msgp.Float64:
		return math.Float64frombits(d.uint(8)), nil
	case msgp.Str:
		s := string(d.b[d.pos : d.pos+h.N])
		d.pos += h.N
		return s, nil
	case msgp.Bin:
		out := make([]byte, h.N)
		copy(out, d.b[d.pos:])
		d.pos += h.N
		return out, nil
	case msgp.Ext:
		data := d.b[d.pos : d.pos+h.N]
		d.pos += h.N
		if h.Ext == -1 {
			if t, ok := msgp.Timestamp(data); ok {
				return t, nil
			}
		}
		return Ext{Type: h.Ext, Data: append([]byte(nil), data...)}, nil
	case msgp.Array:
		if h.N > rest {
			return nil, ErrTruncated
		}
		// Capacity from the count only up to a bound: elements decoded as any
		// take 16 bytes each for the 1 byte a nil or fixint takes on the wire.
		out := make([]any, 0, min(h.N, maxPrealloc))
		for range h.N {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case msgp.Map:
		if 2*h.N > rest {
			return nil, ErrTruncated
		}
		out := make(map[string]any, min(h.N, maxPrealloc))
		for i := 0; i < h.N; i++ {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("ox: invalid MessagePack at offset %d", start)
}

func (d *decoder) uint(n int) uint64 {
	var u uint64
	for _, c := range d.b[d.pos : d.pos+n] {
		u = u<<8 | uint64(c)
	}
	d.pos += n
	return u
}

// keyString turns a decoded map key into the string a JSON object needs.
func keyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case []byte:
		return string(k)
	case int64:
		return strconv.FormatInt(k, 10)
	case uint64:
		return strconv.FormatUint(k, 10)
	case nil:
		return "null"
	}
	return fmt.Sprint(k)
}
