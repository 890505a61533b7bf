package ox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// This file holds a small MessagePack codec written for untrusted input: it never
// allocates more than the bytes actually present justify, never recurses deeper than
// maxDepth, and reports a cut-off value as ErrTruncated so a stream reader can tell
// "wait for more bytes" from "corrupt".

// ErrTruncated reports input that ends inside a MessagePack value.
var ErrTruncated = errors.New("ox: truncated MessagePack value")

// maxDepth bounds the nesting Decode accepts; deeper input is rejected rather than
// risking the stack.
const maxDepth = 256

// Ext is a MessagePack extension value other than a timestamp.
type Ext struct {
	Type int8
	Data []byte
}

// header describes the value that starts at some offset: for strings, binaries and
// extensions, n is the payload length; for arrays and maps the element count.
type header struct {
	kind byte // one of the k* constants
	size int  // bytes taken by the header itself
	n    int  // payload length or element count
	ext  int8
}

const (
	kNil byte = iota
	kBool
	kInt
	kUint
	kFloat32
	kFloat64
	kStr
	kBin
	kExt
	kArray
	kMap
)

// readHeader decodes the header at b[0:]. It reports ErrTruncated when b is too short
// for the header; it does not check that the payload is present.
func readHeader(b []byte) (header, error) {
	if len(b) == 0 {
		return header{}, ErrTruncated
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return header{kind: kUint, size: 1}, nil
	case c <= 0x8f:
		return header{kind: kMap, size: 1, n: int(c & 0x0f)}, nil
	case c <= 0x9f:
		return header{kind: kArray, size: 1, n: int(c & 0x0f)}, nil
	case c <= 0xbf:
		return header{kind: kStr, size: 1, n: int(c & 0x1f)}, nil
	case c >= 0xe0:
		return header{kind: kInt, size: 1}, nil
	}
	need := func(k int) error {
		if len(b) < 1+k {
			return ErrTruncated
		}
		return nil
	}
	u8 := func() int { return int(b[1]) }
	u16 := func() int { return int(binary.BigEndian.Uint16(b[1:3])) }
	u32 := func() int { return int(binary.BigEndian.Uint32(b[1:5])) }
	switch c {
	case 0xc0:
		return header{kind: kNil, size: 1}, nil
	case 0xc2, 0xc3:
		return header{kind: kBool, size: 1}, nil
	case 0xc4, 0xd9: // bin8, str8
		if err := need(1); err != nil {
			return header{}, err
		}
		k := kBin
		if c == 0xd9 {
			k = kStr
		}
		return header{kind: k, size: 2, n: u8()}, nil
	case 0xc5, 0xda:
		if err := need(2); err != nil {
			return header{}, err
		}
		k := kBin
		if c == 0xda {
			k = kStr
		}
		return header{kind: k, size: 3, n: u16()}, nil
	case 0xc6, 0xdb:
		if err := need(4); err != nil {
			return header{}, err
		}
		k := kBin
		if c == 0xdb {
			k = kStr
		}
		return header{kind: k, size: 5, n: u32()}, nil
	case 0xc7:
		if err := need(2); err != nil {
			return header{}, err
		}
		return header{kind: kExt, size: 3, n: u8(), ext: int8(b[2])}, nil
	case 0xc8:
		if err := need(3); err != nil {
			return header{}, err
		}
		return header{kind: kExt, size: 4, n: u16(), ext: int8(b[3])}, nil
	case 0xc9:
		if err := need(5); err != nil {
			return header{}, err
		}
		return header{kind: kExt, size: 6, n: u32(), ext: int8(b[5])}, nil
	case 0xca:
		return header{kind: kFloat32, size: 1, n: 4}, nil
	case 0xcb:
		return header{kind: kFloat64, size: 1, n: 8}, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		return header{kind: kUint, size: 1, n: 1 << (c - 0xcc)}, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return header{kind: kInt, size: 1, n: 1 << (c - 0xd0)}, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		if err := need(1); err != nil {
			return header{}, err
		}
		return header{kind: kExt, size: 2, n: 1 << (c - 0xd4), ext: int8(b[1])}, nil
	case 0xdc:
		if err := need(2); err != nil {
			return header{}, err
		}
		return header{kind: kArray, size: 3, n: u16()}, nil
	case 0xdd:
		if err := need(4); err != nil {
			return header{}, err
		}
		return header{kind: kArray, size: 5, n: u32()}, nil
	case 0xde:
		if err := need(2); err != nil {
			return header{}, err
		}
		return header{kind: kMap, size: 3, n: u16()}, nil
	case 0xdf:
		if err := need(4); err != nil {
			return header{}, err
		}
		return header{kind: kMap, size: 5, n: u32()}, nil
	}
	return header{}, fmt.Errorf("ox: invalid MessagePack type byte 0x%02x", c)
}

// payload reports how many bytes follow the header for scalar kinds.
func (h header) payload() int {
	switch h.kind {
	case kArray, kMap, kNil, kBool:
		return 0
	}
	return h.n
}

// ValueLen returns the length in bytes of the first MessagePack value in b. It
// returns ErrTruncated when b ends inside the value, and another error when the
// bytes are not MessagePack. It runs in time linear in the bytes it reads and
// allocates nothing.
func ValueLen(b []byte) (int, error) {
	pos := 0
	pending := 1 // values still to skip
	for pending > 0 {
		h, err := readHeader(b[pos:])
		if err != nil {
			return 0, err
		}
		pending--
		switch h.kind {
		case kArray:
			pending += h.n
		case kMap:
			pending += 2 * h.n
		}
		// Every pending value takes at least one byte: a count beyond what is left
		// can only be a cut-off (or lying) header, and capping it keeps the
		// arithmetic far from overflow.
		if pending > len(b)-pos {
			return 0, ErrTruncated
		}
		pos += h.size + h.payload()
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
	h, err := readHeader(d.b[d.pos:])
	if err != nil {
		return nil, err
	}
	start := d.pos
	d.pos += h.size
	rest := len(d.b) - d.pos
	if p := h.payload(); p > rest {
		return nil, ErrTruncated
	}
	switch h.kind {
	case kNil:
		return nil, nil
	case kBool:
		return d.b[start] == 0xc3, nil
	case kUint:
		if h.n == 0 {
			return int64(d.b[start]), nil
		}
		u := d.uint(h.n)
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case kInt:
		if h.n == 0 {
			return int64(int8(d.b[start])), nil
		}
		u := d.uint(h.n)
		switch h.n {
		case 1:
			return int64(int8(u)), nil
		case 2:
			return int64(int16(u)), nil
		case 4:
			return int64(int32(u)), nil
		}
		return int64(u), nil
	case kFloat32:
		return float64(math.Float32frombits(uint32(d.uint(4)))), nil
	case kFloat64:
		return math.Float64frombits(d.uint(8)), nil
	case kStr:
		s := string(d.b[d.pos : d.pos+h.n])
		d.pos += h.n
		return s, nil
	case kBin:
		out := make([]byte, h.n)
		copy(out, d.b[d.pos:])
		d.pos += h.n
		return out, nil
	case kExt:
		data := d.b[d.pos : d.pos+h.n]
		d.pos += h.n
		if h.ext == -1 {
			if t, ok := decodeTimestamp(data); ok {
				return t, nil
			}
		}
		return Ext{Type: h.ext, Data: append([]byte(nil), data...)}, nil
	case kArray:
		if h.n > rest {
			return nil, ErrTruncated
		}
		out := make([]any, h.n)
		for i := range out {
			if out[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case kMap:
		if 2*h.n > rest {
			return nil, ErrTruncated
		}
		out := make(map[string]any, h.n)
		for i := 0; i < h.n; i++ {
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

func decodeTimestamp(b []byte) (time.Time, bool) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), true
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&0x3ffffffff), int64(v>>34)).UTC(), true
	case 12:
		ns := binary.BigEndian.Uint32(b[:4])
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(ns)).UTC(), true
	}
	return time.Time{}, false
}
