package ox

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// fieldSet is one level of an event body: a few key/value pairs in a slice,
// cheaper to fill, encode and reuse than a map for the handful of keys an event
// holds. A value that is a *fieldSet is a nested level made for a dotted key;
// users cannot make one, so every *fieldSet in a body belongs to the body.
type fieldSet struct {
	f []field
}

type field struct {
	k string
	v any
}

var fieldSetPool = sync.Pool{New: func() any { return &fieldSet{f: make([]field, 0, 8)} }}

func newFieldSet() *fieldSet { return fieldSetPool.Get().(*fieldSet) }

// release returns fs and its nested levels to the pool.
func (fs *fieldSet) release() {
	for i := range fs.f {
		if sub, ok := fs.f[i].v.(*fieldSet); ok {
			sub.release()
		}
	}
	if cap(fs.f) > 64 {
		return
	}
	clear(fs.f)
	fs.f = fs.f[:0]
	fieldSetPool.Put(fs)
}

func (fs *fieldSet) index(k string) int {
	for i := range fs.f {
		if fs.f[i].k == k {
			return i
		}
	}
	return -1
}

func (fs *fieldSet) set(k string, v any) {
	if i := fs.index(k); i >= 0 {
		fs.f[i].v = v
		return
	}
	fs.f = append(fs.f, field{k, v})
}

// toMap converts fs, nested levels included, to the map a Record carries.
func (fs *fieldSet) toMap() map[string]any {
	m := make(map[string]any, len(fs.f))
	for _, f := range fs.f {
		if sub, ok := f.v.(*fieldSet); ok {
			m[f.k] = sub.toMap()
		} else {
			m[f.k] = f.v
		}
	}
	return m
}

// slot is where a (dotted) key lands: a field of a fieldSet (i < 0: not there
// yet), or a key of a map the application stored in the body.
type slot struct {
	fs  *fieldSet
	i   int
	m   map[string]any
	key string
}

func (s slot) get() (any, bool) {
	if s.m != nil {
		v, ok := s.m[s.key]
		return v, ok
	}
	if s.i < 0 {
		return nil, false
	}
	return s.fs.f[s.i].v, true
}

func (s slot) put(v any) {
	switch {
	case s.m != nil:
		s.m[s.key] = v
	case s.i >= 0:
		s.fs.f[s.i].v = v
	default:
		s.fs.f = append(s.fs.f, field{s.key, v})
	}
}

// lookup walks a dotted key down from fs, creating levels on the way. A map the
// application stored is walked into (and written to), as the original did.
func lookup(fs *fieldSet, key string) (slot, error) {
	if key == "" {
		return slot{}, fmt.Errorf("empty key")
	}
	var m map[string]any
	for {
		part, rest, nested := strings.Cut(key, ".")
		if !nested {
			if m != nil {
				return slot{m: m, key: part}, nil
			}
			return slot{fs: fs, i: fs.index(part), key: part}, nil
		}
		key = rest
		var next any
		if m != nil {
			next = m[part]
		} else if i := fs.index(part); i >= 0 {
			next = fs.f[i].v
		}
		switch n := next.(type) {
		case *fieldSet:
			fs = n
		case map[string]any:
			m = n
		case nil:
			if m != nil {
				sub := map[string]any{}
				m[part] = sub
				m = sub
			} else {
				sub := newFieldSet()
				fs.set(part, sub)
				fs = sub
			}
		default:
			return slot{}, fmt.Errorf("key %q holds a %T, not a map", part, next)
		}
	}
}

// appendFields encodes fs as a MessagePack map with sorted keys, the way
// appendMap encodes a map[string]any. A handful of fields are put in order
// through a stack array of their indexes, which moves no pointers (no write
// barriers while the garbage collector runs); more are sorted in place: fs is
// done.
func appendFields(dst []byte, fs *fieldSet, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("ox: value nested deeper than %d", maxDepth)
	}
	f := fs.f
	var idx [16]uint8
	order := idx[:0]
	if len(f) <= len(idx) {
		for i := range f {
			order = append(order, uint8(i))
		}
		for i := 1; i < len(order); i++ { // insertion sort: fastest for a handful
			for j := i; j > 0 && f[order[j]].k < f[order[j-1]].k; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
	} else {
		slices.SortFunc(f, func(a, b field) int { return strings.Compare(a.k, b.k) })
	}
	dst = appendMapHeader(dst, len(f))
	var err error
	for n := range f {
		i := n
		if len(order) > 0 {
			i = int(order[n])
		}
		dst = appendString(dst, f[i].k)
		switch v := f[i].v.(type) {
		case *fieldSet:
			dst, err = appendFields(dst, v, depth+1)
		case map[string]any:
			dst, err = appendBody(dst, v, depth+1)
		case map[string]string: // headers
			dst = appendStrings(dst, v)
		default:
			dst, err = appendValue(dst, v, depth+1)
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendStrings encodes a map of strings with sorted keys, sorting in a stack
// buffer like appendBody.
func appendStrings(dst []byte, m map[string]string) []byte {
	var buf [32]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = appendMapHeader(dst, len(keys))
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = appendString(dst, m[k])
	}
	return dst
}
