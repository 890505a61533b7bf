package evjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
	"github.com/blueox/ox/internal/testenv"
)

// optionSets are the forms the transcoder is checked in: oxview's compact and
// indented output, and oxstash's documents.
var optionSets = []evjson.Options{
	{},
	{Indent: "  "},
	{NonFiniteNull: true, ShortExponent: true, ExtData: true},
	{Indent: "\t", NonFiniteNull: true, ShortExponent: true, ExtData: true},
}

// checkSame fails unless transcoding raw gives what AppendValue writes for
// ox.Decode's value, for every option set, and both refuse the same input.
func checkSame(t *testing.T, raw []byte) {
	t.Helper()
	v, decErr := ox.Decode(raw)
	var tr evjson.Transcoder
	for _, o := range optionSets {
		got, err := evjson.AppendMsgpack([]byte("x"), raw, o)
		if (err != nil) != (decErr != nil) {
			t.Fatalf("%x: transcoder error %v, ox.Decode error %v", raw, err, decErr)
		}
		if err != nil {
			if errors.Is(decErr, ox.ErrTruncated) != errors.Is(err, ox.ErrTruncated) {
				t.Fatalf("%x: transcoder error %v, ox.Decode error %v", raw, err, decErr)
			}
			continue
		}
		want := evjson.AppendValue([]byte("x"), v, o)
		if !bytes.Equal(got, want) {
			t.Fatalf("%x with %+v:\ngot  %s\nwant %s", raw, o, got, want)
		}
		// A reused Transcoder gives the same, twice.
		if err := tr.Load(raw); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got := tr.Append([]byte("x"), o); !bytes.Equal(got, want) {
				t.Fatalf("%x with %+v, reused:\ngot  %s\nwant %s", raw, o, got, want)
			}
		}
	}
}

func TestAppendMsgpackWritesWhatAppendValueWrites(t *testing.T) {
	enc := func(v any) []byte {
		b, err := ox.AppendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		raw  []byte
	}{
		{"nested event", enc(map[string]any{"type": "request", "end": 1795527978.5929906, "pid": 7,
			"body": map[string]any{"b": []any{int64(1), 2.5, "x", nil, true}, "a": map[string]any{"z": map[string]any{}, "y": []any{}}}})},
		{"floats", enc([]any{2.0, 1e-9, 1e-7, 1e21, 1e300, -0.0, 0.1, math.NaN(), math.Inf(1), math.Inf(-1), float32(1.5)})},
		{"integers", enc([]any{int64(math.MinInt64), int64(-1), int64(-33), int64(127), int64(-129), uint64(math.MaxUint64), int64(math.MaxInt64), int64(40000), int64(-40000)})},
		{"strings", enc([]any{"a\xffb\x00\n\t\"\\\x7f", "h\u00e9llo \u2603 \u2028\u2029", "\xed\xa0\x80", strings.Repeat("x", 300)})},
		{"bin", enc([]any{[]byte("h\u00e9llo"), []byte{0xff, 0, 0xfe}, []byte{}})},
		{"timestamps", []byte{0x93, 0xd6, 0xff, 0, 0, 0, 1, 0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xc7, 12, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"extensions", []byte{0x93, 0xd4, 0x05, 0x01, 0xc7, 3, 0xff, 1, 2, 3, 0xc8, 0, 1, 0x80, 9}},
		{"extension in indented map", []byte{0x81, 0xa1, 'e', 0xd5, 0x05, 0x01, 0x02}},
		{"non-string keys", []byte{0x87, 0x01, 0xa1, 'a', 0xff, 0xa1, 'b', 0xc0, 0x01, 0xc3, 0x02,
			0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x03, 0x92, 0x01, 0xa1, 'x', 0x04, 0x81, 0xa1, 'k', 0x90, 0x05, 0xc4, 0x01, 'b', 0x06}},
		{"repeated keys: the last wins", []byte{0x84, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02, 0xa1, 'a', 0x03, 0xc4, 0x01, 'b', 0x04}},
		{"a number key and its text", []byte{0x82, 0x01, 0xa1, 'x', 0xa1, '1', 0xa1, 'y'}},
		{"invalid UTF-8 keys stay apart", []byte{0x82, 0xa1, 0xff, 0x01, 0xa1, 0xfe, 0x02}},
		{"wide headers", []byte{0xde, 0, 1, 0xda, 0, 1, 'k', 0xdd, 0, 0, 0, 1, 0xc5, 0, 1, 'v'}},
		{"scalars", []byte{0xc3}},
		{"empty map", []byte{0x80}},
		{"empty", nil},
		{"truncated map", []byte{0x81, 0xa1, 'a'}},
		{"truncated string", []byte{0xa5, 'a'}},
		{"map ending before its last key", []byte{0x82, 0xa1, 'a', 0xa2, 'x', 'y'}},
		{"truncated key below the deepest level", append(nested(256)[:len(nested(256))-1], 0x81, 0xa3, 'k')},
		{"map32 claiming 4 billion keys", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0}},
		{"array32 claiming 4 billion elements", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}},
		{"str32 claiming 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}},
		{"invalid type byte", []byte{0x91, 0xc1}},
		{"trailing bytes", []byte{0x80, 0x80}},
		{"deepest accepted nesting", nested(256)},
		{"keys of keys of keys", keysOfKeys(120, 2000)},
		{"too deep", nested(257)},
	}
	for _, wf := range testenv.WireFrames(t) {
		cases = append(cases, struct {
			name string
			raw  []byte
		}{"fixture " + wf.EventJSON["type"].(string), wf.Data})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkSame(t, c.raw) })
	}
}

// keysOfKeys is depth maps, each the only key of the next, around an array of
// n integers: every level's key is stringified from all of it.
func keysOfKeys(depth, n int) []byte {
	var b []byte
	for range depth {
		b = append(b, 0x81)
	}
	b = append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	for i := range n {
		b = append(b, byte(i&0x7f))
	}
	for range depth {
		b = append(b, 0xc0)
	}
	return b
}

// nested is a value inside depth single-key maps and arrays, alternating.
func nested(depth int) []byte {
	var b []byte
	for i := range depth {
		if i%2 == 0 {
			b = append(b, 0x81, 0xa1, 'k')
		} else {
			b = append(b, 0x91)
		}
	}
	return append(b, 0x01)
}

func TestTranscoderRefusesHostileInputWithoutAllocating(t *testing.T) {
	var tr evjson.Transcoder
	for _, raw := range [][]byte{
		{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0},
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
		{0xc6, 0xff, 0xff, 0xff, 0xff},
		{0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01},
	} {
		allocs := testing.AllocsPerRun(10, func() {
			if err := tr.Load(raw); !errors.Is(err, ox.ErrTruncated) {
				t.Fatalf("%x: error %v, want ox.ErrTruncated", raw, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%x: %v allocations", raw, allocs)
		}
	}
}

func TestTranscoderAllocatesNothingOnceWarm(t *testing.T) {
	var tr evjson.Transcoder
	var dst []byte
	for _, wf := range testenv.WireFrames(t) {
		allocs := testing.AllocsPerRun(10, func() {
			if err := tr.Load(wf.Data); err != nil {
				t.Fatal(err)
			}
			dst = tr.Append(dst[:0], evjson.Options{Indent: "  "})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per event", wf.EventJSON["type"], allocs)
		}
	}
}

func TestLeadMembersComeFirstAndReplaceTheEventsOwn(t *testing.T) {
	// {"b": 1, "@t": "mine", "a": 2, "@t": "mine again"}
	raw := []byte{0x84, 0xa1, 'b', 0x01, 0xa2, '@', 't', 0xa4, 'm', 'i', 'n', 'e', 0xa1, 'a', 0x02, 0xa2, '@', 't', 0xa1, 'x'}
	var tr evjson.Transcoder
	if err := tr.Load(raw); err != nil {
		t.Fatal(err)
	}
	lead := []evjson.Member{{Key: "@t", Value: []byte(`"ours"`)}, {Key: "d", Value: []byte(`0.5`)}}
	cases := []struct {
		name string
		opts evjson.Options
		lead []evjson.Member
		want string
	}{
		{"compact", evjson.Options{}, lead, `{"@t":"ours","d":0.5,"a":2,"b":1}`},
		{"indented", evjson.Options{Indent: " "}, lead, "{\n \"@t\": \"ours\",\n \"d\": 0.5,\n \"a\": 2,\n \"b\": 1\n}"},
		{"none", evjson.Options{}, nil, `{"@t":"x","a":2,"b":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(tr.Append(nil, c.opts, c.lead...)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	if got := string(mustLoad(t, []byte{0x80}).Append(nil, evjson.Options{}, lead[1])); got != `{"d":0.5}` {
		t.Errorf("empty map with a lead member: %s", got)
	}
	if got := string(mustLoad(t, []byte{0x91, 0x80}).Append(nil, evjson.Options{}, lead[1])); got != `[{}]` {
		t.Errorf("lead members in an array: %s", got)
	}
}

func mustLoad(t *testing.T, raw []byte) *evjson.Transcoder {
	t.Helper()
	var tr evjson.Transcoder
	if err := tr.Load(raw); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func TestFieldFindsTopLevelValues(t *testing.T) {
	// {"type": "x", "end": 1.5, "body": {"end": 2}, "type": bin "y"}
	raw := []byte{0x84, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'x', 0xa3, 'e', 'n', 'd', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
		0xa4, 'b', 'o', 'd', 'y', 0x81, 0xa3, 'e', 'n', 'd', 0x02, 0xc4, 4, 't', 'y', 'p', 'e', 0xc4, 1, 'y'}
	tr := mustLoad(t, raw)
	for range 2 { // before and after Append sorts the keys
		for key, want := range map[string]any{"type": []byte("y"), "end": 1.5, "nope": nil, "body": map[string]any{"end": int64(2)}} {
			f := tr.Field(key)
			var got any
			if f != nil {
				var err error
				if got, err = ox.Decode(f); err != nil {
					t.Fatal(err)
				}
			}
			if g, w := evjson.Append(nil, got), evjson.Append(nil, want); !bytes.Equal(g, w) {
				t.Errorf("Field(%q) = %s, want %s", key, g, w)
			}
		}
		tr.Append(nil, evjson.Options{})
	}
	if !tr.IsMap() || mustLoad(t, []byte{0x91, 0x80}).IsMap() {
		t.Error("IsMap")
	}
	if f := mustLoad(t, []byte{0x91, 0x81, 0xa1, 'a', 0x01}).Field("a"); f != nil {
		t.Errorf("Field of an array: %x", f)
	}
}

func TestTimestampsAndExtensionsAsOxstashWritesThem(t *testing.T) {
	raw, err := ox.AppendValue(nil, []any{time.Date(2026, 11, 24, 1, 2, 3, 4, time.UTC), ox.Ext{Type: 5, Data: []byte{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := evjson.AppendMsgpack(nil, raw, evjson.Options{ExtData: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["2026-11-24T01:02:03.000000004Z","AQI="]`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzAppendMsgpack checks that the transcoder accepts exactly what ox.Decode
// accepts and writes, in every form, the same valid JSON as AppendValue.
func FuzzAppendMsgpack(f *testing.F) {
	for _, wf := range testenv.WireFrames(f) {
		f.Add(wf.Data)
	}
	f.Add([]byte{0x81, 0xa1, 'a', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x82, 0x01, 0xc4, 0x02, 0xff, 0xfe, 0xa2, 0xff, 'x', 0x92, 0xc0, 0xc3})
	f.Add([]byte{0x84, 0xa1, 'b', 0x01, 0xa1, 'a', 0x81, 0x01, 0x02, 0xa1, 'b', 0xd4, 0x05, 0x01, 0x91, 0x80, 0xc0})
	f.Add([]byte{0xd6, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSame(t, raw)
		v, err := ox.Decode(raw)
		if err != nil {
			return
		}
		checkScalars(t, raw, v)
		for _, o := range optionSets {
			out, _ := evjson.AppendMsgpack(nil, raw, o)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %q from %x", out, raw)
			}
			// Recording the layout changes nothing written.
			var tr evjson.Transcoder
			if err := tr.Load(raw); err != nil {
				t.Fatal(err)
			}
			if js, _ := tr.AppendLayout(nil, o); !bytes.Equal(js, out) {
				t.Fatalf("AppendLayout wrote %q, Append %q", js, out)
			}
		}
	})
}

// checkScalars fails unless Number and Text read raw as ox.Decode made v.
func checkScalars(t *testing.T, raw []byte, v any) {
	t.Helper()
	f, isNum := evjson.Number(raw)
	var want float64
	wantNum := true
	switch n := v.(type) {
	case int64:
		want = float64(n)
	case uint64:
		want = float64(n)
	case float64:
		want = n
	default:
		wantNum = false
	}
	if isNum != wantNum || (isNum && math.Float64bits(f) != math.Float64bits(want) && !(math.IsNaN(f) && math.IsNaN(want))) {
		t.Fatalf("Number(%x) = %v, %v; ox.Decode gives %#v", raw, f, isNum, v)
	}
	b, isText := evjson.Text(raw)
	switch s := v.(type) {
	case string:
		if !isText || string(b) != s {
			t.Fatalf("Text(%x) = %q, %v; ox.Decode gives %q", raw, b, isText, s)
		}
	case []byte:
		if !isText || !bytes.Equal(b, s) {
			t.Fatalf("Text(%x) = %q, %v; ox.Decode gives %q", raw, b, isText, s)
		}
	default:
		if isText {
			t.Fatalf("Text(%x) = %q; ox.Decode gives %#v", raw, b, v)
		}
	}
}

func TestNumberAndTextReadScalars(t *testing.T) {
	for _, raw := range [][]byte{
		{0x05}, {0xff}, {0xcc, 0xff}, {0xcd, 0xff, 0xff}, {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xd0, 0x80}, {0xd1, 0x80, 0}, {0xd2, 0x80, 0, 0, 0}, {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0xca, 0x3f, 0xc0, 0, 0}, {0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1},
		{0xa3, 'a', 'b', 'c'}, {0xc4, 1, 0xff}, {0xd9, 0}, {0xc0}, {0xc3}, {0x80}, {0x91, 0x01},
	} {
		v, err := ox.Decode(raw)
		if err != nil {
			t.Fatalf("%x: %v", raw, err)
		}
		checkScalars(t, raw, v)
	}
	for _, raw := range [][]byte{nil, {0xcb, 0x3f}, {0xa3, 'a'}, {0xc1}} {
		if _, ok := evjson.Number(raw); ok {
			t.Errorf("Number(%x) accepted", raw)
		}
		if _, ok := evjson.Text(raw); ok {
			t.Errorf("Text(%x) accepted", raw)
		}
	}
}
