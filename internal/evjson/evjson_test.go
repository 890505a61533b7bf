package evjson_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
)

func TestAppendWritesValidJSONForWhatJSONCannotHold(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nan", math.NaN(), `"NaN"`},
		{"plus infinity", math.Inf(1), `"Infinity"`},
		{"minus infinity", math.Inf(-1), `"-Infinity"`},
		{"integral float keeps a fraction", 2.0, `2.0`},
		{"float", 1795527978.5929906, `1795527978.5929906`},
		{"tiny float", 1e-9, `1e-09`},
		{"huge uint", uint64(math.MaxUint64), `18446744073709551615`},
		{"negative int", int64(-8589934592), `-8589934592`},
		{"bin that is text", []byte("héllo"), `"héllo"`},
		{"bin that is not text", []byte{0xff, 0x00, 0x01}, `"/wAB"`},
		{"invalid utf-8 string", "a\xffb", `"a\ufffdb"`},
		{"control characters", "a\x00\n\t\"\\", `"a\u0000\n\t\"\\"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"timestamp", time.Date(2026, 11, 24, 12, 0, 0, 5, time.UTC), `"2026-11-24T12:00:00.000000005Z"`},
		{"extension", ox.Ext{Type: 5, Data: []byte{1, 2}}, `{"data":"AQI=","ext":5}`},
		{"sorted keys", map[string]any{"b": int64(1), "a": nil, "1": true}, `{"1":true,"a":null,"b":1}`},
		{"empty containers", []any{map[string]any{}, []any{}}, `[{},[]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(evjson.Append(nil, c.in))
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("%s is not valid JSON", got)
			}
		})
	}
}

func TestAppendIndentSortsAndIndents(t *testing.T) {
	got := string(evjson.AppendIndent(nil, map[string]any{"b": []any{int64(1)}, "a": map[string]any{"x": "y"}}, "  "))
	want := "{\n  \"a\": {\n    \"x\": \"y\"\n  },\n  \"b\": [\n    1\n  ]\n}"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestIntegerKeysFromMessagePackBecomeStrings(t *testing.T) {
	// {1: "a", -2: "b"} as MessagePack
	v, err := ox.Decode([]byte{0x82, 0x01, 0xa1, 'a', 0xfe, 0xa1, 'b'})
	if err != nil {
		t.Fatal(err)
	}
	got := string(evjson.Append(nil, v))
	if got != `{"-2":"b","1":"a"}` {
		t.Errorf("got %s", got)
	}
}

// FuzzAppend checks that any MessagePack value that decodes prints as valid JSON.
func FuzzAppend(f *testing.F) {
	f.Add([]byte{0x81, 0xa1, 'a', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x82, 0x01, 0xc4, 0x02, 0xff, 0xfe, 0xa2, 0xff, 'x', 0x92, 0xc0, 0xc3})
	f.Add([]byte{0xd6, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ox.Decode(b)
		if err != nil {
			return
		}
		out := evjson.Append(nil, v)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %x", out, b)
		}
		if out := evjson.AppendIndent(nil, v, "  "); !json.Valid(out) {
			t.Fatalf("invalid indented JSON %q from %x", out, b)
		}
	})
}
