package evjson

import (
	"github.com/blueox/ox/internal/msgp"

	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/blueox/ox"
)

// This file transcodes MessagePack to JSON without building Go values, as
// ox.Decode followed by AppendValue would: it reads the same input ox.Decode
// accepts (and refuses the same input), and writes the same JSON.
//
// Object keys must be written sorted, so a map's members cannot be written as
// they are read. Load therefore walks the value once and records, for every
// map, where each key and value lies; Append then writes from that index.
// Each reads every byte once whatever the nesting (keys are compared again to
// sort them), and the index grows only with the bytes actually present, never
// with what a length prefix claims.

// maxDepth bounds the nesting, as ox.Decode does: a value inside maxDepth
// arrays or maps is accepted, one deeper is not.
const maxDepth = 256

// Transcoder writes the JSON of a raw MessagePack value without decoding it into
// Go values. The zero value is ready to use; reusing one Transcoder reuses its
// scratch memory, so transcoding allocates nothing in the steady state (except
// for map keys that are neither str nor bin, which are rare). A Transcoder is
// not safe for concurrent use.
type Transcoder struct {
	raw   []byte
	ents  []entry
	names []byte // the text of keys that are neither str nor bin

	record bool   // append writes the layout too
	layout []byte // see AppendLayout
}

// entry describes one member of a map in the value Load indexed. The members of
// a map with n keys are stored at ents[i+1 : i+1+n], after a header entry at
// ents[i] whose val is n, end the offset just past the map and sub the index
// just past the entries of everything inside the map.
type entry struct {
	ks, ke  int  // the key's text: raw[ks:ke], or names[ks:ke] when named
	named   bool // the key is neither str nor bin
	val     int  // offset of the value
	end     int  // offset just past the value
	sub     int  // index in ents where the maps inside the value are described
	written bool // scratch for Append
}

// Load checks that raw holds exactly one MessagePack value that ox.Decode
// accepts and indexes it for Field and Append, which use raw until the next
// Load. Input that ends inside the value gives an error wrapping ox.ErrTruncated.
func (t *Transcoder) Load(raw []byte) error {
	t.raw = raw
	t.ents = t.ents[:0]
	t.names = t.names[:0]
	end, err := t.index(0, 0, true)
	if err != nil {
		t.raw = nil
		return err
	}
	if end != len(raw) {
		t.raw = nil
		return fmt.Errorf("evjson: %d bytes after the MessagePack value", len(raw)-end)
	}
	return nil
}

// LoadNext is Load for the value at the start of raw, which more bytes may
// follow (a stream of values): it indexes that value alone and returns its
// length. When raw ends inside the value, the error wraps ox.ErrTruncated.
// Framing a stream this way walks each value once, not twice.
func (t *Transcoder) LoadNext(raw []byte) (int, error) {
	t.raw = raw
	t.ents = t.ents[:0]
	t.names = t.names[:0]
	end, err := t.index(0, 0, true)
	if err != nil {
		t.raw = nil
		return 0, err
	}
	t.raw = raw[:end:end]
	return end, nil
}

// index checks the value at raw[pos:], at the given depth, records the maps
// in it when record is set, and returns the offset just past it. What is
// inside a map key is not recorded: keyText stringifies the whole key at once,
// so the keys of a key are not stringified again at each level.
func (t *Transcoder) index(pos, depth int, record bool) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("evjson: MessagePack nested deeper than %d", maxDepth)
	}
	if pos < len(t.raw) {
		// The commonest values first, without decoding a header.
		var end int
		switch c := t.raw[pos]; {
		case c < 0x80 || c >= 0xe0: // fixint
			return pos + 1, nil
		case c&0xe0 == 0xa0: // fixstr
			end = pos + 1 + int(c&0x1f)
		case c == 0xcb: // float 64
			end = pos + 9
		default:
			goto general
		}
		if end > len(t.raw) {
			return 0, ox.ErrTruncated
		}
		return end, nil
	}
general:
	h, err := msgp.ReadHeader(t.raw[pos:])
	if err != nil {
		return 0, err
	}
	pos += h.Size
	rest := len(t.raw) - pos
	switch h.Kind {
	case msgp.Array:
		// Every element takes at least one byte.
		if h.N > rest {
			return 0, ox.ErrTruncated
		}
		for range h.N {
			if pos, err = t.index(pos, depth+1, record); err != nil {
				return 0, err
			}
		}
		return pos, nil
	case msgp.Map:
		if 2*h.N > rest {
			return 0, ox.ErrTruncated
		}
		if !record {
			for range 2 * h.N {
				if pos, err = t.index(pos, depth+1, false); err != nil {
					return 0, err
				}
			}
			return pos, nil
		}
		base := len(t.ents)
		t.ents = slices.Grow(t.ents, h.N+1)[:base+h.N+1]
		for i := range h.N {
			var e entry
			if pos < len(t.raw) && t.raw[pos]&0xe0 == 0xa0 && depth < maxDepth { // fixstr, the usual key
				c := t.raw[pos]
				e.ks, e.val = pos+1, pos+1+int(c&0x1f)
				if e.val > len(t.raw) {
					return 0, ox.ErrTruncated
				}
				e.ke = e.val
			} else {
				if e.val, err = t.index(pos, depth+1, false); err != nil {
					return 0, err
				}
				if e.ks, e.ke, e.named, err = t.keyText(pos, e.val); err != nil {
					return 0, err
				}
			}
			e.sub = len(t.ents)
			if e.end, err = t.index(e.val, depth+1, true); err != nil {
				return 0, err
			}
			t.ents[base+1+i] = e
			pos = e.end
		}
		t.ents[base] = entry{val: h.N, end: pos, sub: len(t.ents)}
		return pos, nil
	}
	if h.Payload() > rest {
		return 0, ox.ErrTruncated
	}
	return pos + h.Payload(), nil
}

// keyText locates the text of the key raw[start:end] as ox.Decode makes it:
// the bytes of a str or bin, else the string ox.Decode stringifies the key to,
// kept in t.names.
func (t *Transcoder) keyText(start, end int) (ks, ke int, named bool, err error) {
	h, err := msgp.ReadHeader(t.raw[start:end])
	if err != nil {
		return 0, 0, false, err
	}
	if h.Kind == msgp.Str || h.Kind == msgp.Bin {
		return start + h.Size, end, false, nil
	}
	k, err := ox.Decode(t.raw[start:end])
	if err != nil {
		return 0, 0, false, err
	}
	ks = len(t.names)
	switch k := k.(type) {
	case int64:
		t.names = strconv.AppendInt(t.names, k, 10)
	case uint64:
		t.names = strconv.AppendUint(t.names, k, 10)
	case nil:
		t.names = append(t.names, "null"...)
	default:
		t.names = fmt.Append(t.names, k)
	}
	return ks, len(t.names), true, nil
}

func (t *Transcoder) key(e *entry) []byte {
	if e.named {
		return t.names[e.ks:e.ke]
	}
	return t.raw[e.ks:e.ke]
}

// IsMap reports whether the loaded value is a map.
func (t *Transcoder) IsMap() bool {
	return len(t.raw) > 0 && len(t.ents) > 0 && isMapByte(t.raw[0])
}

func isMapByte(c byte) bool {
	return c&0xf0 == 0x80 || c == 0xde || c == 0xdf
}

// Field returns the raw MessagePack bytes of the value under key in the loaded
// map (the last one when the key repeats, as in ox.Decode's map), or nil when
// the loaded value is not a map or has no such key. They can be decoded with
// ox.Decode.
func (t *Transcoder) Field(key string) []byte {
	if !t.IsMap() {
		return nil
	}
	var v []byte
	for i := range t.ents[0].val {
		if e := &t.ents[1+i]; string(t.key(e)) == key {
			v = t.raw[e.val:e.end]
		}
	}
	return v
}

// Fields sets vals[i] to what Field(keys[i]) returns, in one pass over the
// loaded map's members. vals must be as long as keys.
func (t *Transcoder) Fields(keys []string, vals [][]byte) {
	clear(vals)
	if !t.IsMap() {
		return
	}
	for i := range t.ents[0].val {
		e := &t.ents[1+i]
		k := t.key(e)
		for j, key := range keys {
			if string(k) == key {
				vals[j] = t.raw[e.val:e.end]
			}
		}
	}
}

// Member is an object member given as JSON, for Transcoder.Append.
type Member struct {
	Key   string
	Value []byte // one JSON value, written as it is
}

// Append appends the loaded value to dst as JSON written as opts say. When the
// value is a map, the lead members are written first in it, in their order,
// and the map's own keys of the same names are left out; otherwise lead is
// ignored. Append writes nothing when nothing is loaded (Load failed).
func (t *Transcoder) Append(dst []byte, opts Options, lead ...Member) []byte {
	if t.raw == nil {
		return dst
	}
	dst, _, _ = t.append(dst, 0, 0, 0, &opts, lead)
	return dst
}

// AppendLayout is Append that also returns the layout of the JSON it wrote,
// valid until the next call: the keys of every object in the order written and
// the JSON kind of every value, without the values themselves. Two values with
// the same layout have the same keys, nesting and kinds, so a check of the
// JSON's structure (a schema) that one passed, the other passes too. The
// layout is meant as a map key; its exact bytes are not a stable format.
func (t *Transcoder) AppendLayout(dst []byte, opts Options, lead ...Member) (json, layout []byte) {
	t.layout = t.layout[:0]
	if t.raw == nil {
		return dst, t.layout
	}
	t.record = true
	dst, _, _ = t.append(dst, 0, 0, 0, &opts, lead)
	t.record = false
	return dst, t.layout
}

// Layout codes of the values AppendLayout records.
const (
	layNull   = 'n'
	layBool   = 'b'
	layInt    = 'i'
	layFloat  = 'f'
	layString = 's'
	layExt    = 'x' // the object {"data": ..., "ext": ...}
)

// note records c in the layout when it is being recorded.
func (t *Transcoder) note(c byte) {
	if t.record {
		t.layout = append(t.layout, c)
	}
}

// noteKey records an object member's key, its length first so that keys and
// codes cannot run into each other.
func (t *Transcoder) noteKey(k []byte) {
	if t.record {
		t.layout = binary.AppendUvarint(t.layout, uint64(len(k)))
		t.layout = append(t.layout, k...)
	}
}

// noteFloat records the kind of the JSON appendFloat writes for f.
func (t *Transcoder) noteFloat(f float64, o *Options) {
	if !t.record {
		return
	}
	switch {
	case !math.IsNaN(f) && !math.IsInf(f, 0):
		t.layout = append(t.layout, layFloat)
	case o.NonFiniteNull:
		t.layout = append(t.layout, layNull)
	default:
		t.layout = append(t.layout, layString)
	}
}

// noteLead records a lead member, whose value is JSON given as it is.
func (t *Transcoder) noteLead(m Member) {
	if !t.record {
		return
	}
	t.noteKey([]byte(m.Key))
	v := m.Value
	switch {
	case len(v) == 0:
		t.layout = append(t.layout, layNull)
	case v[0] == '"':
		t.layout = append(t.layout, layString)
	case v[0] == 'n':
		t.layout = append(t.layout, layNull)
	case v[0] == 't' || v[0] == 'f':
		t.layout = append(t.layout, layBool)
	case v[0] == '{' || v[0] == '[':
		// The whole value: its structure is in its text.
		t.layout = append(t.layout, 'J')
		t.layout = binary.AppendUvarint(t.layout, uint64(len(v)))
		t.layout = append(t.layout, v...)
	default:
		k := byte(layInt)
		for _, c := range v {
			if c == '.' || c == 'e' || c == 'E' {
				k = layFloat
				break
			}
		}
		t.layout = append(t.layout, k)
	}
}

// AppendMsgpack appends the MessagePack value raw holds to dst as JSON written
// as opts say: the same JSON as AppendValue writes for what ox.Decode makes of
// raw, without building that value. Input ox.Decode refuses gives an error.
// Transcoding many values with one Transcoder allocates less.
func AppendMsgpack(dst, raw []byte, opts Options) ([]byte, error) {
	var t Transcoder
	if err := t.Load(raw); err != nil {
		return dst, err
	}
	return t.Append(dst, opts), nil
}

// append writes the value at raw[pos:] at nesting level; ix is the index in
// t.ents of the maps in that value. It returns the offsets just past the value
// and past its maps' entries.
func (t *Transcoder) append(dst []byte, pos, ix, level int, o *Options, lead []Member) ([]byte, int, int) {
	raw := t.raw
	// The commonest values first, without decoding a header.
	switch c := raw[pos]; {
	case c < 0x80: // positive fixint
		t.note(layInt)
		return strconv.AppendUint(dst, uint64(c), 10), pos + 1, ix
	case c&0xe0 == 0xa0: // fixstr
		t.note(layString)
		end := pos + 1 + int(c&0x1f)
		return appendString(dst, raw[pos+1:end]), end, ix
	case c == 0xcb: // float 64
		f := math.Float64frombits(msgp.ReadUint(raw[pos+1 : pos+9]))
		t.noteFloat(f, o)
		return appendFloat(dst, f, o), pos + 9, ix
	}
	h, _ := msgp.ReadHeader(raw[pos:]) // Load checked everything.
	start := pos
	pos += h.Size
	switch h.Kind {
	case msgp.Nil:
		t.note(layNull)
		return append(dst, "null"...), pos, ix
	case msgp.Bool:
		t.note(layBool)
		return strconv.AppendBool(dst, raw[start] == 0xc3), pos, ix
	case msgp.Uint:
		t.note(layInt)
		if h.N == 0 {
			return strconv.AppendUint(dst, uint64(raw[start]), 10), pos, ix
		}
		return strconv.AppendUint(dst, msgp.ReadUint(raw[pos:pos+h.N]), 10), pos + h.N, ix
	case msgp.Int:
		t.note(layInt)
		var n int64
		switch u := msgp.ReadUint(raw[pos : pos+h.N]); h.N {
		case 0:
			n = int64(int8(raw[start]))
		case 1:
			n = int64(int8(u))
		case 2:
			n = int64(int16(u))
		case 4:
			n = int64(int32(u))
		default:
			n = int64(u)
		}
		return strconv.AppendInt(dst, n, 10), pos + h.N, ix
	case msgp.Float32:
		f := float64(math.Float32frombits(uint32(msgp.ReadUint(raw[pos : pos+4]))))
		t.noteFloat(f, o)
		return appendFloat(dst, f, o), pos + 4, ix
	case msgp.Float64:
		f := math.Float64frombits(msgp.ReadUint(raw[pos : pos+8]))
		t.noteFloat(f, o)
		return appendFloat(dst, f, o), pos + 8, ix
	case msgp.Str:
		t.note(layString)
		return appendString(dst, raw[pos:pos+h.N]), pos + h.N, ix
	case msgp.Bin:
		t.note(layString)
		return appendBin(dst, raw[pos:pos+h.N]), pos + h.N, ix
	case msgp.Ext:
		data := raw[pos : pos+h.N]
		if h.Ext == -1 {
			if ts, ok := msgp.Timestamp(data); ok {
				t.note(layString)
				return appendTime(dst, ts), pos + h.N, ix
			}
		}
		if o.ExtData {
			t.note(layString)
		} else {
			t.note(layExt)
		}
		return appendExt(dst, h.Ext, data, o, level), pos + h.N, ix
	case msgp.Array:
		t.note('[')
		if h.N == 0 {
			t.note(']')
			return append(dst, "[]"...), pos, ix
		}
		dst = append(dst, '[')
		for i := range h.N {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, o.Indent, level+1)
			dst, pos, ix = t.append(dst, pos, ix, level+1, o, nil)
		}
		t.note(']')
		dst = newline(dst, o.Indent, level)
		return append(dst, ']'), pos, ix
	}
	// A map.
	hdr := t.ents[ix]
	members := t.ents[ix+1 : ix+1+hdr.val]
	t.sort(members)
	// Of equal keys the last one wins; lead members win over all.
	n := 0
	for i := range members {
		e := &members[i]
		k := t.key(e)
		e.written = !(i+1 < len(members) && bytes.Equal(k, t.key(&members[i+1])))
		for j := 0; j < len(lead) && e.written; j++ {
			e.written = string(k) != lead[j].Key
		}
		if e.written {
			n++
		}
	}
	t.note('{')
	if n+len(lead) == 0 {
		t.note('}')
		return append(dst, "{}"...), hdr.end, hdr.sub
	}
	dst = append(dst, '{')
	for i, m := range lead {
		if i > 0 {
			dst = append(dst, ',')
		}
		t.noteLead(m)
		dst = appendKey(dst, m.Key, o.Indent, level+1)
		dst = append(dst, m.Value...)
	}
	sep := len(lead) > 0
	for i := range members {
		e := &members[i]
		if !e.written {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		t.noteKey(t.key(e))
		dst = appendKey(dst, t.key(e), o.Indent, level+1)
		dst, _, _ = t.append(dst, e.val, e.sub, level+1, o, nil)
	}
	t.note('}')
	dst = newline(dst, o.Indent, level)
	return append(dst, '}'), hdr.end, hdr.sub
}

// sort sorts a map's members by key, keeping the order of equal keys.
func (t *Transcoder) sort(members []entry) {
	if len(members) > 12 {
		slices.SortStableFunc(members, func(a, b entry) int {
			return bytes.Compare(t.key(&a), t.key(&b))
		})
		return
	}
	// Events have few keys: an insertion sort that compares in place is
	// faster.
	for i := 1; i < len(members); i++ {
		for j := i; j > 0 && bytes.Compare(t.key(&members[j-1]), t.key(&members[j])) > 0; j-- {
			members[j-1], members[j] = members[j], members[j-1]
		}
	}
}

// Number returns the number held by the MessagePack int, uint or float at the
// start of raw (as Transcoder.Field returns it), as a float64; ok is false for
// any other value.
func Number(raw []byte) (f float64, ok bool) {
	h, err := msgp.ReadHeader(raw)
	if err != nil || len(raw) < h.Size+h.Payload() {
		return 0, false
	}
	b := raw[h.Size : h.Size+h.Payload()]
	switch h.Kind {
	case msgp.Uint:
		if h.N == 0 {
			return float64(raw[0]), true
		}
		return float64(msgp.ReadUint(b)), true
	case msgp.Int:
		switch u := msgp.ReadUint(b); h.N {
		case 0:
			return float64(int8(raw[0])), true
		case 1:
			return float64(int8(u)), true
		case 2:
			return float64(int16(u)), true
		case 4:
			return float64(int32(u)), true
		default:
			return float64(int64(u)), true
		}
	case msgp.Float32:
		return float64(math.Float32frombits(uint32(msgp.ReadUint(b)))), true
	case msgp.Float64:
		return math.Float64frombits(msgp.ReadUint(b)), true
	}
	return 0, false
}

// Text returns the bytes of the MessagePack str or bin at the start of raw; ok
// is false for any other value.
func Text(raw []byte) (b []byte, ok bool) {
	h, err := msgp.ReadHeader(raw)
	if err != nil || (h.Kind != msgp.Str && h.Kind != msgp.Bin) || len(raw) < h.Size+h.N {
		return nil, false
	}
	return raw[h.Size : h.Size+h.N], true
}
