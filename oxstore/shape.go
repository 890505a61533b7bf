package main

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/blueox/ox/internal/evjson"
)

// The rows oxstore export writes keep a stable shape, so that engines that
// infer a schema from the data (DuckDB, Spark, ClickHouse) see one JSON type
// per key: within one event type, the first non-null value of a key (a path
// such as body.response.status; array elements count as one key, path[])
// fixes that key's kind: string, number, boolean, object or array. A later
// value of another kind is written as a string (its JSON text) when the key's
// kind is string, and as null otherwise; each such key is reported at the end
// of the run. Null fits every kind. The top-level keys of the document have
// fixed kinds from the start (see fixedKinds). Numbers are one kind; an
// integer under a key whose first number had a fraction part is written with
// ".0", so the key reads as a floating-point column throughout.
//
// The kinds live for one run; the fixed top-level kinds and the usual
// stability of an event type's fields keep runs alike.

// kind is the JSON type of a value, as the shape rule sees it.
type kind uint8

const (
	kindNull kind = iota
	kindString
	kindInt   // a number without fraction or exponent
	kindFloat // a number with one
	kindBool
	kindObject
	kindArray
)

func (k kind) String() string {
	return [...]string{"null", "string", "number", "number", "boolean", "object", "array"}[k]
}

// same reports whether a value of kind v fits a key of kind k.
func (k kind) same(v kind) bool {
	if k == kindInt || k == kindFloat {
		return v == kindInt || v == kindFloat
	}
	return k == v
}

// fixedKinds are the kinds of the document's top-level keys (evdoc), fixed
// before any row, so that every run and every event type agree on them.
var fixedKinds = map[string]kind{
	"@timestamp": kindString, "duration": kindFloat,
	"id": kindString, "type": kindString, "host": kindString,
	"pid": kindInt, "start": kindFloat, "end": kindFloat,
	"body": kindObject,
}

// maxShapeKeys bounds the keys remembered per event type, so that events
// keyed by ever new names (user ids as keys) cannot grow memory without end.
// Keys beyond it are written as they come.
const maxShapeKeys = 20000

// shaper applies the shape rule to the documents of one event type.
type shaper struct {
	kinds    map[string]kind
	path     []byte         // the current key, segments separated by 0
	changed  map[string]int // key -> values rewritten
	firstBad map[string]kind
	full     bool
}

func newShaper() *shaper {
	s := &shaper{kinds: make(map[string]kind, 64), changed: map[string]int{}, firstBad: map[string]kind{}}
	for k, v := range fixedKinds {
		s.kinds["\x00"+k] = v
	}
	return s
}

// apply appends doc, one compact JSON object as evdoc writes it, to dst with
// the shape rule applied. Most documents fit the shape as they are: a first
// walk only checks (and learns new keys), and the document is rewritten only
// when a value must change.
func (s *shaper) apply(dst, doc []byte) []byte {
	s.path = s.path[:0]
	if _, ok := s.check(doc, 0, true); ok {
		return append(dst, doc...)
	}
	s.path = s.path[:0]
	dst, _ = s.value(dst, doc, 0, true)
	return dst
}

// check walks the value at doc[i:] as value does, recording the kinds of new
// keys, and reports whether it fits the shape unchanged, with the offset
// just past it (valid only when it fits).
func (s *shaper) check(doc []byte, i int, root bool) (int, bool) {
	c := doc[i]
	if c == 'n' {
		return i + 4, true
	}
	k := kindOfByte(c)
	if k == kindInt && isFloatText(doc, i) {
		k = kindFloat
	}
	if !root {
		w, ok := s.kinds[string(s.path)]
		switch {
		case ok:
			// Unchanged: the same kind, or a float under an integer key. An
			// integer under a float key gains ".0".
			if w != k && !(w == kindInt && k == kindFloat) {
				return 0, false
			}
		case len(s.kinds) < maxShapeKeys:
			s.kinds[string(s.path)] = k
		default:
			s.full = true
		}
	}
	switch k {
	case kindObject:
		i++
		if doc[i] == '}' {
			return i + 1, true
		}
		for {
			kend := skipString(doc, i)
			n := len(s.path)
			s.path = append(s.path, 0)
			s.path = append(s.path, doc[i+1:kend-1]...)
			var ok bool
			i, ok = s.check(doc, kend+1, false)
			s.path = s.path[:n]
			if !ok {
				return 0, false
			}
			if doc[i] == '}' {
				return i + 1, true
			}
			i++
		}
	case kindArray:
		i++
		if doc[i] == ']' {
			return i + 1, true
		}
		n := len(s.path)
		s.path = append(s.path, 0, '[', ']')
		for {
			var ok bool
			if i, ok = s.check(doc, i, false); !ok {
				return 0, false
			}
			if doc[i] == ']' {
				s.path = s.path[:n]
				return i + 1, true
			}
			i++
		}
	case kindString:
		return skipString(doc, i), true
	case kindBool:
		if c == 'f' {
			return i + 5, true
		}
		return i + 4, true
	}
	return skipNumber(doc, i), true
}

// value writes the JSON value at doc[i:] and returns the offset just past it.
// root is the document itself, which has no key.
func (s *shaper) value(dst, doc []byte, i int, root bool) ([]byte, int) {
	c := doc[i]
	if c == 'n' {
		return append(dst, "null"...), i + 4
	}
	k := kindOfByte(c)
	if k == kindInt && isFloatText(doc, i) {
		k = kindFloat
	}
	want := k
	if !root {
		w, ok := s.kinds[string(s.path)]
		switch {
		case ok:
			want = w
		case len(s.kinds) < maxShapeKeys:
			s.kinds[string(s.path)] = k
		default:
			s.full = true
		}
	}
	if !want.same(k) {
		end := skipValue(doc, i)
		key := string(s.path)
		if s.changed[key] == 0 {
			s.firstBad[key] = want
		}
		s.changed[key]++
		if want == kindString {
			return evjson.AppendString(dst, string(doc[i:end])), end
		}
		return append(dst, "null"...), end
	}
	switch k {
	case kindObject:
		dst = append(dst, '{')
		i++
		if doc[i] == '}' {
			return append(dst, '}'), i + 1
		}
		for {
			kend := skipString(doc, i)
			dst = append(dst, doc[i:kend]...)
			dst = append(dst, ':')
			n := len(s.path)
			s.path = append(s.path, 0)
			s.path = append(s.path, doc[i+1:kend-1]...)
			dst, i = s.value(dst, doc, kend+1, false)
			s.path = s.path[:n]
			if doc[i] == '}' {
				return append(dst, '}'), i + 1
			}
			dst = append(dst, ',')
			i++
		}
	case kindArray:
		dst = append(dst, '[')
		i++
		if doc[i] == ']' {
			return append(dst, ']'), i + 1
		}
		n := len(s.path)
		s.path = append(s.path, 0, '[', ']')
		for {
			dst, i = s.value(dst, doc, i, false)
			if doc[i] == ']' {
				s.path = s.path[:n]
				return append(dst, ']'), i + 1
			}
			dst = append(dst, ',')
			i++
		}
	case kindString:
		end := skipString(doc, i)
		return append(dst, doc[i:end]...), end
	case kindBool:
		end := i + 4
		if c == 'f' {
			end++
		}
		return append(dst, doc[i:end]...), end
	}
	end := skipNumber(doc, i)
	dst = append(dst, doc[i:end]...)
	if want == kindFloat && k == kindInt {
		dst = append(dst, ".0"...)
	}
	return dst, end
}

// report returns one line per key whose values were rewritten, sorted.
func (s *shaper) report(typ string) []string {
	var out []string
	for key, n := range s.changed {
		out = append(out, fmt.Sprintf("%s: %s: %d value(s) not of the key's type (%s) written as %s",
			typ, keyName(key), n, s.firstBad[key], map[bool]string{true: "strings", false: "null"}[s.firstBad[key] == kindString]))
	}
	if s.full {
		out = append(out, fmt.Sprintf("%s: more than %d distinct keys; later ones are not kept to one type", typ, maxShapeKeys))
	}
	sort.Strings(out)
	return out
}

// keyName turns a shaper path into body.response.status.
func keyName(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "\x00"), "\x00", ".")
}

func kindOfByte(c byte) kind {
	switch c {
	case '"':
		return kindString
	case '{':
		return kindObject
	case '[':
		return kindArray
	case 't', 'f':
		return kindBool
	}
	return kindInt
}

// isFloatText reports whether the number at doc[i:] has a fraction or an
// exponent.
func isFloatText(doc []byte, i int) bool {
	for ; i < len(doc); i++ {
		switch doc[i] {
		case '.', 'e', 'E':
			return true
		case '-', '+', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			continue
		}
		return false
	}
	return false
}

// skipString returns the offset just past the JSON string at doc[i:].
func skipString(doc []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(doc[j:], '"')
		if q < 0 {
			return len(doc)
		}
		j += q
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		bs := 0
		for k := j - 1; k > i && doc[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1
		}
		j++
	}
}

func skipNumber(doc []byte, i int) int {
	for ; i < len(doc); i++ {
		switch doc[i] {
		case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			continue
		}
		return i
	}
	return i
}

// skipValue returns the offset just past the JSON value at doc[i:].
func skipValue(doc []byte, i int) int {
	switch doc[i] {
	case '"':
		return skipString(doc, i)
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				j = skipString(doc, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(doc)
	}
	return skipNumber(doc, i)
}
