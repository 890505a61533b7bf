package main

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blueox/ox/internal/evjson"
	"github.com/blueox/ox/internal/msgp"
)

// The aggregate behind --summary and --report. Everything in it is bounded
// whatever the input: a fixed number of types, hosts and field values, each
// with fixed-size histograms and time series, and a bounded table of ids waiting
// to be joined.
const (
	maxTypes      = 256 // types counted one by one; more share otherTypes
	otherTypes    = "(other types)"
	topCapacity   = 200     // values a top-k table keeps (hosts, --by values, error messages)
	topShown      = 15      // values a report shows per table
	maxJoinWait   = 100_000 // ids waiting for their parent or their sub-events
	maxSkipRanges = 100     // damaged ranges listed one by one
	maxValueLen   = 200     // bytes of a field value or message kept as its key
)

// byField is one --by FIELD: a dotted path into the body, for the events of one
// type when written TYPE:FIELD.
type byField struct {
	spec string   // as given
	typ  string   // "" for every type
	path []string // the dotted key, split
}

// parseByField reads a --by value: FIELD or TYPE:FIELD.
func parseByField(s string) (byField, bool) {
	f := byField{spec: s}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		f.typ, s = s[:i], s[i+1:]
	}
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return f, false
	}
	f.path = strings.Split(s, ".")
	return f, true
}

// event is what the aggregate reads from one event.
type event struct {
	typ, id, host    []byte
	start, end       float64
	hasStart, hasEnd bool
	body             []byte // raw MessagePack, nil when absent
	raw              []byte // the whole event
	hasType, hasID   bool
	hasHost          bool
	duration         float64
	hasDuration      bool
	time             float64 // start, else end
	hasTime          bool
}

// parseEvent reads the fields of the map raw (accepted by ox.ValueLen).
func parseEvent(raw []byte, ev *event) {
	*ev = event{raw: raw}
	eachField(raw, func(k, v []byte) bool {
		switch string(k) {
		case "type":
			ev.typ, ev.hasType = evjson.Text(v)
		case "id":
			ev.id, ev.hasID = evjson.Text(v)
		case "host":
			ev.host, ev.hasHost = evjson.Text(v)
		case "start":
			ev.start, ev.hasStart = timeOf(v)
		case "end":
			ev.end, ev.hasEnd = timeOf(v)
		case "body":
			ev.body = v
		}
		return true
	})
	if ev.hasStart && ev.hasEnd {
		ev.duration, ev.hasDuration = ev.end-ev.start, true
	}
	switch {
	case ev.hasStart:
		ev.time, ev.hasTime = ev.start, true
	case ev.hasEnd:
		ev.time, ev.hasTime = ev.end, true
	}
}

// timeOf reads a time as BlueOx writes it (float Unix seconds) or as an int or a
// MessagePack timestamp; NaN and infinities are not times.
func timeOf(v []byte) (float64, bool) {
	if f, ok := evjson.Number(v); ok {
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	h, err := msgp.ReadHeader(v)
	if err != nil || h.Kind != msgp.Ext || h.Ext != -1 || len(v) < h.Size+h.N {
		return 0, false
	}
	t, ok := msgp.Timestamp(v[h.Size : h.Size+h.N])
	if !ok {
		return 0, false
	}
	return float64(t.UnixNano()) / 1e9, true
}

// field returns the raw value under key in the map raw (the last when repeated).
func field(raw []byte, key string) []byte {
	var out []byte
	eachField(raw, func(k, v []byte) bool {
		if string(k) == key {
			out = v
		}
		return true
	})
	return out
}

// appendValueKey appends the text a value is counted under: a string or bin as
// it is, a number, bool or nil as written in JSON, a map or list as compact JSON;
// cut to maxValueLen bytes (at a UTF-8 boundary when it is text).
func appendValueKey(dst, v []byte) []byte {
	start := len(dst)
	if t, ok := evjson.Text(v); ok {
		dst = append(dst, t...)
	} else if f, ok := evjson.Number(v); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		dst = strconv.AppendInt(dst, int64(f), 10)
	} else if ok {
		dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	} else if len(v) > 4*maxValueLen {
		// A large map or list: its JSON would be cut anyway; say what it is.
		dst = fmt.Appendf(dst, "(%d bytes of MessagePack)", len(v))
	} else if out, err := evjson.AppendMsgpack(dst, v, evjson.Options{}); err == nil {
		dst = out
	}
	return cutText(dst, start, maxValueLen)
}

// cutText shortens dst[start:] to at most n bytes, not splitting a UTF-8 sequence.
func cutText(dst []byte, start, n int) []byte {
	if len(dst)-start <= n {
		return dst
	}
	end := start + n
	for end > start && !utf8.RuneStart(dst[end]) {
		end--
	}
	return dst[:end]
}

// isSet reports whether an error field's value says there was an error: present
// and not nil, false or an empty string.
func isSet(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case 0xc0, 0xc2, 0xa0: // nil, false, ""
		return false
	}
	if t, ok := evjson.Text(v); ok {
		return len(bytes.TrimSpace(t)) > 0
	}
	return true
}

// appendMessage appends the line an error is counted under: for a Python
// traceback its last line ("ZeroDivisionError: division by zero"), for other
// text its first non-blank line, cut to maxValueLen bytes.
func appendMessage(dst, v []byte) []byte {
	t, ok := evjson.Text(v)
	if !ok {
		return appendValueKey(dst, v)
	}
	t = bytes.TrimSpace(t)
	if bytes.HasPrefix(t, []byte("Traceback (most recent call last)")) {
		if i := bytes.LastIndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
	} else if i := bytes.IndexByte(t, '\n'); i >= 0 {
		t = t[:i]
	}
	start := len(dst)
	dst = append(dst, bytes.TrimSpace(t)...)
	return cutText(dst, start, maxValueLen)
}

// typeStats is what the aggregate knows about one type.
type typeStats struct {
	name   string
	count  uint64
	errors uint64
	dur    *hist
	times  series
}

// byStats counts the values of one --by field.
type byStats struct {
	field   byField
	with    uint64 // events with the field
	without uint64 // events (of the chosen type) without it
	top     *topK
}

// summary is the aggregate of a stream of events.
type summary struct {
	errField []string // dotted path of the error field
	errSpec  string

	events     uint64
	untyped    uint64 // events without a string type
	first      float64
	last       float64
	timed      bool
	times      series
	types      map[string]*typeStats
	hosts      *topK
	noHost     uint64
	by         []*byStats
	errors     uint64
	errTimes   series
	errMsgs    *topK
	join       *joiner
	inputs     []string
	skips      []skipInput
	skipCount  uint64
	skipBytes  int64
	readErrors []string

	ev      event
	scratch []byte
	paths   [][]string // the error field, then each --by field
	dotted  []string   // each path joined again
	firsts  [][]byte   // per path, the value under its first key in the loaded body
	lits    [][]byte   // per path, the value under its whole dotted key
}

// skipInput is a skipped range of one input.
type skipInput struct {
	Input string `json:"input"`
	skipRange
}

func newSummary(errField string, by []byField) *summary {
	s := &summary{
		errSpec:  errField,
		errField: strings.Split(errField, "."),
		types:    map[string]*typeStats{},
		hosts:    newTopK(topCapacity, false),
		errMsgs:  newTopK(topCapacity, false),
		join:     newJoiner(maxJoinWait),
		first:    math.Inf(1),
		last:     math.Inf(-1),
	}
	s.paths = append(s.paths, s.errField)
	for _, f := range by {
		s.by = append(s.by, &byStats{field: f, top: newTopK(topCapacity, true)})
		s.paths = append(s.paths, f.path)
	}
	for _, p := range s.paths {
		s.dotted = append(s.dotted, strings.Join(p, "."))
	}
	s.firsts = make([][]byte, len(s.paths))
	s.lits = make([][]byte, len(s.paths))
	return s
}

// typeOf returns the stats of type name, or of otherTypes when maxTypes are
// already counted.
func (s *summary) typeOf(name []byte) *typeStats {
	if t, ok := s.types[string(name)]; ok {
		return t
	}
	n := string(name)
	if len(s.types) >= maxTypes {
		n = otherTypes
		if t, ok := s.types[n]; ok {
			return t
		}
	}
	t := &typeStats{name: n, dur: newHist()}
	s.types[n] = t
	return t
}

// add counts one event (raw MessagePack accepted by ox.ValueLen).
func (s *summary) add(raw []byte) {
	ev := &s.ev
	parseEvent(raw, ev)
	s.events++
	if !ev.hasType {
		s.untyped++
	}
	t := s.typeOf(ev.typ)
	t.count++
	if ev.hasDuration {
		t.dur.add(ev.duration)
	}
	if ev.hasTime {
		t.times.add(ev.time)
		s.times.add(ev.time)
		s.first = min(s.first, ev.time)
		s.last = max(s.last, ev.time)
		s.timed = true
	}
	if ev.hasEnd {
		s.last = max(s.last, ev.end)
	}
	if ev.hasHost {
		s.hosts.add(ev.host)
	} else {
		s.noHost++
	}
	s.loadFields()
	for i, b := range s.by {
		if b.field.typ != "" && b.field.typ != string(ev.typ) {
			continue
		}
		v := s.fieldOf(i + 1)
		if v == nil {
			b.without++
			continue
		}
		b.with++
		s.scratch = appendValueKey(s.scratch[:0], v)
		e := b.top.add(s.scratch)
		if ev.hasDuration {
			e.hist.add(ev.duration)
		}
	}
	if v := s.fieldOf(0); isSet(v) {
		s.errors++
		t.errors++
		if ev.hasTime {
			s.errTimes.add(ev.time)
		}
		s.scratch = appendMessage(s.scratch[:0], v)
		s.errMsgs.add(s.scratch)
	}
	if ev.hasID && ev.hasType && t.name != otherTypes {
		s.join.add(ev.id, t.name, ev.duration, ev.hasDuration)
	}
}

// loadFields walks the loaded event's body once and keeps, for each path
// (the error field, then each --by field), the value under its first key and
// the value under the whole dotted key, for fieldOf.
func (s *summary) loadFields() {
	clear(s.firsts)
	clear(s.lits)
	if s.ev.body == nil {
		return
	}
	eachField(s.ev.body, func(k, v []byte) bool {
		for i, p := range s.paths {
			if string(k) == p[0] {
				s.firsts[i] = v // the last of a repeated key, as in lookup
			}
			if len(p) > 1 && string(k) == s.dotted[i] {
				s.lits[i] = v
			}
		}
		return true
	})
}

// fieldOf returns the value under path i (see loadFields) in the loaded
// event's body: nested maps first (response.status_code in {"response":
// {"status_code": 200}}), then a key holding the dots itself; the event's own
// host, pid and type when the body has no such key. Nil when there is none.
func (s *summary) fieldOf(i int) []byte {
	path := s.paths[i]
	v := s.firsts[i]
	for _, p := range path[1:] {
		if v == nil {
			break
		}
		v = field(v, p)
	}
	if v == nil {
		v = s.lits[i]
	}
	if v == nil && len(path) == 1 && (path[0] == "host" || path[0] == "pid" || path[0] == "type") {
		v = field(s.ev.raw, path[0])
	}
	return v
}

// skipped records a damaged range of input.
func (s *summary) skipped(input string, r skipRange) {
	s.skipCount++
	s.skipBytes += r.Bytes
	if len(s.skips) < maxSkipRanges {
		s.skips = append(s.skips, skipInput{Input: input, skipRange: r})
	}
}
