package ox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

func TestMetaMatchesOriginalByteForByte(t *testing.T) {
	for _, f := range testenv.WireFrames(t) {
		m, err := ox.ParseMeta(f.Meta)
		if err != nil {
			t.Fatalf("ParseMeta: %v", err)
		}
		if m.Type != f.MetaJSON["type"] || m.Host != f.MetaJSON["host"] || m.End != f.MetaJSON["end"] {
			t.Errorf("ParseMeta = %+v, original decoded %v", m, f.MetaJSON)
		}
		got, err := ox.AppendMeta(nil, ox.Meta{End: m.End, Host: m.Host, Type: m.Type})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Meta) {
			t.Errorf("AppendMeta(%s) differs from the original:\n got %x\nwant %x", m.Type, got, f.Meta)
		}
	}
}

func TestMetaRejects(t *testing.T) {
	good, _ := ox.AppendMeta(nil, ox.Meta{End: 1, Host: "h", Type: "t"})
	badVersion := bytes.Clone(good)
	badVersion[0] = 2
	badLen := bytes.Clone(good)
	badLen[73] = 64
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty frame", nil, ox.ErrMetaSize},
		{"short frame", good[:136], ox.ErrMetaSize},
		{"long frame", append(bytes.Clone(good), 0), ox.ErrMetaSize},
		{"version 2", badVersion, ox.ErrMetaVersion},
		{"pascal length over 63", badLen, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ox.ParseMeta(tt.frame)
			if err == nil {
				t.Fatal("ParseMeta accepted a bad frame")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendMetaRefusesLongNames(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 64))
	if _, err := ox.AppendMeta(nil, ox.Meta{Type: long}); !errors.Is(err, ox.ErrNameTooLong) {
		t.Errorf("64-byte type: err = %v, want ErrNameTooLong", err)
	}
	if _, err := ox.AppendMeta(nil, ox.Meta{Host: long}); !errors.Is(err, ox.ErrNameTooLong) {
		t.Errorf("64-byte host: err = %v, want ErrNameTooLong", err)
	}
	if _, err := ox.AppendMeta(nil, ox.Meta{Type: long[:63]}); err != nil {
		t.Errorf("63-byte type: %v", err)
	}
}

// normalize turns decoded values into what encoding/json produces, so a decoded
// frame compares with the original's JSON dump.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeOriginalDataFrames(t *testing.T) {
	for _, f := range testenv.WireFrames(t) {
		v, err := ox.Decode(f.Data)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if got, want := normalize(t, v), normalize(t, f.EventJSON); !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %v\nwant %v", got, want)
		}
		r, err := ox.DecodeRecord(f.Data)
		if err != nil {
			t.Fatalf("DecodeRecord: %v", err)
		}
		if r.Type != f.EventJSON["type"] || r.ID != f.EventJSON["id"] || r.Host != "vm" || r.PID != 11874 {
			t.Errorf("DecodeRecord = %+v", r)
		}
		if d := ox.UnixFloat(r.End) - f.EventJSON["end"].(float64); math.Abs(d) > 1e-6 {
			t.Errorf("end off by %g", d)
		}
	}
}

func TestAppendRecordDecodesToTheSameMap(t *testing.T) {
	for _, f := range testenv.WireFrames(t) {
		r, err := ox.DecodeRecord(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		data, err := ox.AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := ox.Decode(f.Data)
		mine, err := ox.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		// Times round to the microsecond through time.Time; compare the rest exactly.
		om, mm := orig.(map[string]any), mine.(map[string]any)
		for _, k := range []string{"start", "end"} {
			if d := om[k].(float64) - mm[k].(float64); math.Abs(d) > 1e-6 {
				t.Errorf("%s off by %g", k, d)
			}
			delete(om, k)
			delete(mm, k)
		}
		if !reflect.DeepEqual(om, mm) {
			t.Errorf("re-encoded frame decodes to %v\nwant %v", mm, om)
		}
	}
}

func TestDecodeAcceptsEveryWidth(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want any
	}{
		{"positive fixint", []byte{0x05}, int64(5)},
		{"negative fixint", []byte{0xff}, int64(-1)},
		{"uint8", []byte{0xcc, 0xff}, int64(255)},
		{"uint16", []byte{0xcd, 0x01, 0x00}, int64(256)},
		{"uint32", []byte{0xce, 0, 1, 0, 0}, int64(65536)},
		{"uint64 small", []byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, int64(1 << 32)},
		{"uint64 huge", []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(math.MaxUint64)},
		{"int8", []byte{0xd0, 0x80}, int64(-128)},
		{"int16", []byte{0xd1, 0xff, 0x00}, int64(-256)},
		{"int32", []byte{0xd2, 0xff, 0xff, 0xff, 0xfe}, int64(-2)},
		{"int64", []byte{0xd3, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}, int64(-8589934592)},
		{"float32", []byte{0xca, 0x3f, 0xc0, 0, 0}, 1.5},
		{"float64", []byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, 1.5},
		{"fixstr", []byte{0xa2, 'h', 'i'}, "hi"},
		{"str8", []byte{0xd9, 2, 'h', 'i'}, "hi"},
		{"str16", []byte{0xda, 0, 2, 'h', 'i'}, "hi"},
		{"str32", []byte{0xdb, 0, 0, 0, 2, 'h', 'i'}, "hi"},
		{"bin8", []byte{0xc4, 2, 0xff, 0x00}, []byte{0xff, 0x00}},
		{"nil", []byte{0xc0}, nil},
		{"true", []byte{0xc3}, true},
		{"map with int key", []byte{0x81, 0x07, 0xa1, 'x'}, map[string]any{"7": "x"}},
		{"map with bin key", []byte{0x81, 0xc4, 1, 'k', 0x01}, map[string]any{"k": int64(1)}},
		{"array16", []byte{0xdc, 0, 1, 0xc2}, []any{false}},
		{"timestamp32", []byte{0xd6, 0xff, 0, 0, 0, 1}, time.Unix(1, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ox.Decode(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode(%x) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeRejectsHostileInput(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, 10000)
	deep = append(deep, 0xc0)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"reserved byte 0xc1", []byte{0xc1}},
		{"str32 claiming 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}},
		{"array32 claiming 4G elements", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}},
		{"map32 claiming 4G pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"truncated float", []byte{0xcb, 0, 0}},
		{"trailing bytes", []byte{0xc0, 0xc0}},
		{"nesting 10000 deep", deep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := ox.Decode(tt.in); err == nil {
				t.Fatalf("Decode accepted %x as %v", tt.in, v)
			}
		})
	}
}

func TestAppendValueRoundTrips(t *testing.T) {
	type named string
	type point struct{ X, Y int }
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int", 42, int64(42)},
		{"negative int", -70000, int64(-70000)},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"float", 2.5, 2.5},
		{"duration as float seconds", 1500 * time.Millisecond, 1.5},
		{"named string type", named("x"), "x"},
		{"string slice", []string{"a", "b"}, []any{"a", "b"}},
		{"int slice", []int{1, 2}, []any{int64(1), int64(2)}},
		{"typed map", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"nested map", map[string]any{"a": map[string]any{"b": nil}}, map[string]any{"a": map[string]any{"b": nil}}},
		{"error as text", errors.New("boom"), "boom"},
		{"nil pointer", (*int)(nil), nil},
		{"long string", string(bytes.Repeat([]byte("z"), 70000)), string(bytes.Repeat([]byte("z"), 70000))},
		{"struct via msgpack", point{1, 2}, map[string]any{"X": int64(1), "Y": int64(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ox.AppendValue(nil, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ox.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("round trip of %#v = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ox.AppendValue(nil, func() {}); err == nil {
		t.Error("AppendValue accepted a func")
	}
}

func TestAppendValueIsDeterministic(t *testing.T) {
	m := map[string]any{}
	for _, k := range []string{"q", "w", "e", "r", "t", "y", "u", "i", "o", "p", "a", "s", "d", "f", "g", "h", "j", "k"} {
		m[k] = k
	}
	first, _ := ox.AppendValue(nil, m)
	for range 20 {
		again, _ := ox.AppendValue(nil, m)
		if !bytes.Equal(first, again) {
			t.Fatal("the same map encoded to different bytes")
		}
	}
}

func TestFloatTime(t *testing.T) {
	if got := ox.FloatTime(1795527978.590206); got.UnixMicro() != 1795527978590206 {
		t.Errorf("FloatTime lost precision: %v", got.UnixMicro())
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), 1e300} {
		if !ox.FloatTime(f).IsZero() {
			t.Errorf("FloatTime(%g) is not the zero time", f)
		}
	}
}

func TestFixtureLogFilesHoldTheDataFrames(t *testing.T) {
	frames := testenv.WireFrames(t)
	want := map[string][]byte{}
	for _, f := range frames {
		typ := f.EventJSON["type"].(string)
		want[typ] = append(want[typ], f.Data...)
	}
	dir := testenv.Fixture(t, "logs-daily/20261124")
	for typ, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, typ+"-20261124.log"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: fixture file is not the concatenated data frames", typ)
		}
	}
}

func TestAppendValueSmallMapDoesNotAllocate(t *testing.T) {
	m := map[string]any{"status": 200, "size": 5120, "path": "/x"}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = ox.AppendValue(buf[:0], m)
	})
	if allocs != 0 {
		t.Errorf("encoding a small map allocated %v times", allocs)
	}
}
