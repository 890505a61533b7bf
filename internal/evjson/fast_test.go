package evjson

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/blueox/ox"
)

func TestPlainWordAgreesWithPlainTable(t *testing.T) {
	word := func(b []byte) uint64 { return load8(b, 0) }
	allPlain := func(b []byte) bool {
		for _, c := range b {
			if !plain[c] {
				return false
			}
		}
		return true
	}
	// Every byte value at every position among plain neighbours.
	for c := range 256 {
		for at := range 8 {
			b := bytes.Repeat([]byte{'a'}, 8)
			b[at] = byte(c)
			if got, want := plainWord(word(b)), plain[c]; got != want {
				t.Fatalf("byte 0x%02x at %d: plainWord %v, want %v", c, at, got, want)
			}
		}
	}
	// Random words, of bytes near the edges of the plain range.
	edges := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7e, 0x7f, 0x80, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for range 200000 {
		for i := range b {
			b[i] = edges[rng.IntN(len(edges))]
		}
		if got, want := plainWord(word(b)), allPlain(b); got != want {
			t.Fatalf("% x: plainWord %v, want %v", b, got, want)
		}
	}
}

func TestAppendStringEscapesInsideLongPlainText(t *testing.T) {
	for _, s := range []string{
		"0123456789abcdef\"0123456789",
		"0123456789abcdef\\0123456789",
		"0123456789abcdef\n0123456789",
		"0123456789abcdef\x7f0123456789",
		"01234567\xff89abcdef",
		"01234567\u2028abcdefgh",
		"01234567é89abcdefgh",
		"exactly8",
		"sixteen bytes!!!",
	} {
		got := AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("%q: invalid JSON %s", s, got)
		}
		var back string
		json.Unmarshal(got, &back)
		want := string(bytes.ToValidUTF8([]byte(s), []byte("\ufffd")))
		if back != want {
			t.Errorf("%q: wrote %s, reads back %q", s, got, back)
		}
	}
}

func TestAppendLayoutTellsStructureApart(t *testing.T) {
	enc := func(v any) []byte {
		b, err := ox.AppendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layout := func(v any) string {
		var tr Transcoder
		if err := tr.Load(enc(v)); err != nil {
			t.Fatal(err)
		}
		js, lay := tr.AppendLayout(nil, Options{NonFiniteNull: true})
		if want := tr.Append(nil, Options{NonFiniteNull: true}); !bytes.Equal(js, want) {
			t.Fatalf("AppendLayout wrote %s, Append %s", js, want)
		}
		return string(lay)
	}
	same := [][2]any{
		{map[string]any{"a": int64(1), "b": "x"}, map[string]any{"a": int64(2), "b": "yy"}},
		{map[string]any{"a": 1.5}, map[string]any{"a": 2.25}},
		{map[string]any{"t": []any{"a", "b"}}, map[string]any{"t": []any{"c", "d"}}},
	}
	for _, p := range same {
		if layout(p[0]) != layout(p[1]) {
			t.Errorf("%v and %v: layouts differ", p[0], p[1])
		}
	}
	differ := [][2]any{
		{map[string]any{"a": int64(1)}, map[string]any{"a": 1.5}},
		{map[string]any{"a": int64(1)}, map[string]any{"a": "1"}},
		{map[string]any{"a": int64(1)}, map[string]any{"b": int64(1)}},
		{map[string]any{"a": nil}, map[string]any{"a": false}},
		{map[string]any{"ab": int64(1)}, map[string]any{"a": int64(1), "b": int64(1)}},
		{map[string]any{"t": []any{"a"}}, map[string]any{"t": []any{"a", "b"}}},
		{map[string]any{"t": []any{int64(1)}}, map[string]any{"t": map[string]any{}}},
		{map[string]any{"o": map[string]any{"a": int64(1)}}, map[string]any{"o": map[string]any{"a": 1.0}}},
	}
	for _, p := range differ {
		if layout(p[0]) == layout(p[1]) {
			t.Errorf("%v and %v: same layout %q", p[0], p[1], layout(p[0]))
		}
	}
}

func TestFieldsFindsWhatFieldFinds(t *testing.T) {
	raw, err := ox.AppendValue(nil, map[string]any{"type": "a", "start": 1.5, "body": map[string]any{"end": int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	var tr Transcoder
	if err := tr.Load(raw); err != nil {
		t.Fatal(err)
	}
	keys := []string{"type", "start", "end", "body"}
	vals := make([][]byte, len(keys))
	vals[2] = []byte{1}
	tr.Fields(keys, vals)
	for i, k := range keys {
		if !bytes.Equal(vals[i], tr.Field(k)) {
			t.Errorf("%s: Fields gives % x, Field % x", k, vals[i], tr.Field(k))
		}
	}
}
