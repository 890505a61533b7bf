package main

import (
	"bytes"
	"encoding/json"
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
// The kinds are kept with the export (see shapesDir), so that later exports
// to the same destination follow the same ones.

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

// shapeNode is one key of an event type's shape: its kind and, for objects,
// its members in the order first seen (documents list keys sorted, so the
// next member is almost always the next one here), for arrays its elements.
type shapeNode struct {
	name     string // "[]" for array elements, "" for the document
	parent   *shapeNode
	kind     kind // kindNull until the first non-null value
	children []*shapeNode
	index    map[string]*shapeNode // children by name, once there are many
	elem     *shapeNode

	changed int  // values rewritten
	want    kind // the key's kind when the first was rewritten
}

// shaper applies the shape rule to the documents of one event type.
type shaper struct {
	root    *shapeNode
	nodes   int
	full    bool
	changed []*shapeNode // keys with rewritten values, in order of the first

	// fits holds the layouts (evdoc.Builder.AppendLayout) of documents that
	// fitted the shape as they were. A key's kind, once set, never changes,
	// so a later document of the same layout fits too and needs no check:
	// events of one type mostly share a handful of layouts.
	fits map[string]struct{}
	// fitsLeft is what memory is left for remembering layouts, shared by
	// the shapers of one export (see maxFitsBytes).
	fitsLeft *int
	scratch  []byte
}

// maxFitsBytes bounds the memory of the layouts the shapers of one export
// remember together (their bytes plus an estimate of the map's own cost per
// entry), whatever the number of event types; further layouts are checked
// every time.
const (
	maxFitsBytes     = 4 << 20
	fitEntryOverhead = 48
)

// newShaper returns a shaper with a memory budget of its own for layouts;
// shapers that should share one get the same fitsLeft.
func newShaper() *shaper {
	left := maxFitsBytes
	s := &shaper{root: &shapeNode{kind: kindObject}, fits: map[string]struct{}{}, fitsLeft: &left}
	for name, k := range fixedKinds {
		s.root.children = append(s.root.children, &shapeNode{name: name, parent: s.root, kind: k})
	}
	sort.Slice(s.root.children, func(i, j int) bool { return s.root.children[i].name < s.root.children[j].name })
	s.nodes = len(s.root.children)
	return s
}

// child returns n's member key, adding it when new; *hint is where the
// next member is expected. Nil means the shape is full.
func (s *shaper) child(n *shapeNode, key []byte, hint *int) *shapeNode {
	if h := *hint; h < len(n.children) && n.children[h].name == string(key) {
		*hint = h + 1
		return n.children[h]
	}
	if n.index != nil {
		if c := n.index[string(key)]; c != nil {
			return c
		}
	} else {
		for i, c := range n.children {
			if c.name == string(key) {
				*hint = i + 1
				return c
			}
		}
	}
	if s.nodes >= maxShapeKeys {
		s.full = true
		return nil
	}
	s.nodes++
	c := &shapeNode{name: string(key), parent: n}
	n.children = append(n.children, c)
	if n.index != nil {
		n.index[c.name] = c
	} else if len(n.children) > 16 {
		n.index = make(map[string]*shapeNode, 32)
		for _, c := range n.children {
			n.index[c.name] = c
		}
	}
	*hint = len(n.children)
	return c
}

// element returns the node of n's array elements.
func (s *shaper) element(n *shapeNode) *shapeNode {
	if n.elem == nil {
		if s.nodes >= maxShapeKeys {
			s.full = true
			return nil
		}
		s.nodes++
		n.elem = &shapeNode{name: "[]", parent: n}
	}
	return n.elem
}

// valueKind is the kind of the JSON value at doc[i:], which is not null.
func valueKind(doc []byte, i int) kind {
	k := kindOfByte(doc[i])
	if k == kindInt && isFloatText(doc, i) {
		k = kindFloat
	}
	return k
}

// apply appends doc, one compact JSON object as evdoc writes it, to dst with
// the shape rule applied. Most documents fit the shape as they are: a first
// walk only checks (and learns new keys), and the document is rewritten only
// when a value must change.
func (s *shaper) apply(dst, doc []byte) []byte {
	if _, ok := s.check(doc, 0, s.root); ok {
		return append(dst, doc...)
	}
	dst, _ = s.value(dst, doc, 0, s.root)
	return dst
}

// applyAt applies the shape rule to the document at buf[from:], whose
// layout is layout, in place: a document of a layout known to fit, or that
// fits, stays as it is; another is rewritten. It returns buf with the
// document as it must be written.
func (s *shaper) applyAt(buf []byte, from int, layout []byte) []byte {
	if _, ok := s.fits[string(layout)]; ok {
		return buf
	}
	doc := buf[from:]
	if _, ok := s.check(doc, 0, s.root); ok {
		if cost := len(layout) + fitEntryOverhead; cost <= *s.fitsLeft {
			s.fits[string(layout)] = struct{}{}
			*s.fitsLeft -= cost
		}
		return buf
	}
	s.scratch = append(s.scratch[:0], doc...)
	buf, _ = s.value(buf[:from], s.scratch, 0, s.root)
	return buf
}

// check walks the value at doc[i:] for key n as value does, learning the
// kinds of new keys, and reports whether it fits the shape unchanged, with
// the offset just past it (valid only when it fits).
func (s *shaper) check(doc []byte, i int, n *shapeNode) (int, bool) {
	c := doc[i]
	if c == 'n' {
		return i + 4, true
	}
	if n == nil {
		return skipValue(doc, i), true
	}
	k := valueKind(doc, i)
	switch {
	case n.kind == kindNull:
		n.kind = k
	case n.kind != k && !(n.kind == kindInt && k == kindFloat):
		// A float under an integer key is written as it is; anything else
		// must change.
		return 0, false
	}
	switch k {
	case kindObject:
		i++
		if doc[i] == '}' {
			return i + 1, true
		}
		hint := 0
		for {
			kend := skipString(doc, i)
			var ok bool
			if i, ok = s.check(doc, kend+1, s.child(n, doc[i+1:kend-1], &hint)); !ok {
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
		e := s.element(n)
		for {
			var ok bool
			if i, ok = s.check(doc, i, e); !ok {
				return 0, false
			}
			if doc[i] == ']' {
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

// value writes the JSON value at doc[i:] for key n with the shape rule
// applied, and returns the offset just past it.
func (s *shaper) value(dst, doc []byte, i int, n *shapeNode) ([]byte, int) {
	c := doc[i]
	if c == 'n' {
		return append(dst, "null"...), i + 4
	}
	if n == nil {
		end := skipValue(doc, i)
		return append(dst, doc[i:end]...), end
	}
	k := valueKind(doc, i)
	if n.kind == kindNull {
		n.kind = k
	}
	if !n.kind.same(k) {
		end := skipValue(doc, i)
		if n.changed == 0 {
			n.want = n.kind
			s.changed = append(s.changed, n)
		}
		n.changed++
		if n.kind == kindString {
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
		hint := 0
		for {
			kend := skipString(doc, i)
			dst = append(dst, doc[i:kend]...)
			dst = append(dst, ':')
			dst, i = s.value(dst, doc, kend+1, s.child(n, doc[i+1:kend-1], &hint))
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
		e := s.element(n)
		for {
			dst, i = s.value(dst, doc, i, e)
			if doc[i] == ']' {
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
	if n.kind == kindFloat && k == kindInt {
		dst = append(dst, ".0"...)
	}
	return dst, end
}

// report returns one line per key whose values were rewritten, sorted.
func (s *shaper) report(typ string) []string {
	var out []string
	for _, n := range s.changed {
		as := "null"
		if n.want == kindString {
			as = "strings"
		}
		out = append(out, fmt.Sprintf("%s: %s: %d value(s) not of the key's type (%s) written as %s",
			typ, n.path(), n.changed, n.want, as))
	}
	if s.full {
		out = append(out, fmt.Sprintf("%s: more than %d distinct keys; later ones are not kept to one type", typ, maxShapeKeys))
	}
	sort.Strings(out)
	return out
}

// path names the key as body.response.status (array elements as tags[]).
func (n *shapeNode) path() string {
	var parts []string
	for ; n != nil && n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		if b.Len() > 0 && parts[i] != "[]" {
			b.WriteByte('.')
		}
		b.WriteString(parts[i])
	}
	return b.String()
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

// The kinds an export learned are kept beside the table, in
// DEST/_oxstore/shapes/<type>.json, and read again by the next export to the
// same place, so that daily runs agree with each other. Engines skip the
// folder: it is outside the partitions, and Spark ignores names starting
// with '_'.

// shapesDir is the folder, under an export's destination, of the kinds.
const shapesDir = "_oxstore/shapes"

// shapeJSON is how a shapeNode is stored.
type shapeJSON struct {
	Kind string                `json:"kind,omitempty"`
	Keys map[string]*shapeJSON `json:"keys,omitempty"`
	Elem *shapeJSON            `json:"elem,omitempty"`
}

var kindNames = [...]string{kindNull: "", kindString: "string", kindInt: "integer", kindFloat: "float",
	kindBool: "boolean", kindObject: "object", kindArray: "array"}

func kindNamed(name string) (kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return kind(k), true
		}
	}
	return kindNull, false
}

// marshal returns the kinds s holds, as stored.
func (s *shaper) marshal() ([]byte, error) {
	var conv func(n *shapeNode) *shapeJSON
	conv = func(n *shapeNode) *shapeJSON {
		j := &shapeJSON{Kind: kindNames[n.kind]}
		if len(n.children) > 0 {
			j.Keys = make(map[string]*shapeJSON, len(n.children))
			for _, c := range n.children {
				j.Keys[c.name] = conv(c)
			}
		}
		if n.elem != nil {
			j.Elem = conv(n.elem)
		}
		return j
	}
	return json.Marshal(conv(s.root))
}

// load adds stored kinds to s; kinds s already holds (the fixed top-level
// ones) win. Stored data that does not parse is an error.
func (s *shaper) load(data []byte) error {
	var root shapeJSON
	if err := json.Unmarshal(data, &root); err != nil {
		return err
	}
	var add func(n *shapeNode, j *shapeJSON) error
	add = func(n *shapeNode, j *shapeJSON) error {
		k, ok := kindNamed(j.Kind)
		if !ok {
			return fmt.Errorf("unknown kind %q", j.Kind)
		}
		if n.kind == kindNull {
			n.kind = k
		}
		names := make([]string, 0, len(j.Keys))
		for name := range j.Keys {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if j.Keys[name] == nil {
				continue
			}
			hint := 0
			c := s.child(n, []byte(name), &hint)
			if c == nil {
				return nil // full
			}
			if err := add(c, j.Keys[name]); err != nil {
				return err
			}
		}
		if j.Elem != nil {
			if e := s.element(n); e != nil {
				return add(e, j.Elem)
			}
		}
		return nil
	}
	return add(s.root, &root)
}
