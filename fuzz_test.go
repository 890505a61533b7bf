package ox_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

func FuzzParseMeta(f *testing.F) {
	for _, fr := range testenv.WireFrames(f) {
		f.Add(fr.Meta)
	}
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := ox.ParseMeta(frame)
		if err != nil {
			return
		}
		again, err := ox.AppendMeta(nil, m)
		if err != nil {
			t.Fatalf("a parsed meta does not encode: %v", err)
		}
		back, err := ox.ParseMeta(again)
		if err != nil || back.Type != m.Type || back.Host != m.Host {
			t.Fatalf("meta does not round-trip: %+v vs %+v (%v)", m, back, err)
		}
	})
}

func FuzzReader(f *testing.F) {
	var all []byte
	for _, fr := range testenv.WireFrames(f) {
		f.Add(fr.Data)
		all = append(all, fr.Data...)
	}
	f.Add(all)
	f.Add([]byte{0x81, 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, stream []byte) {
		defer checkShortReadsAndBound(t, stream)
		rd := ox.NewReader(bytes.NewReader(stream))
		total := 0
		for {
			v, err := rd.Next()
			if err == io.EOF {
				if total != len(stream) {
					t.Fatalf("clean EOF after %d of %d bytes", total, len(stream))
				}
				return
			}
			if err != nil {
				var ce *ox.CorruptError
				if !errors.As(err, &ce) || ce.Offset != int64(total) {
					t.Fatalf("error %v at offset %d", err, total)
				}
				return
			}
			total += len(v)
			n, err := ox.ValueLen(v)
			if err != nil || n != len(v) {
				t.Fatalf("Next returned a value ValueLen disagrees with: %d vs %d (%v)", n, len(v), err)
			}
			// Decoding must not fail on what the splitter accepted, other than
			// for nesting depth.
			_, _ = ox.Decode(v)
			_, _ = ox.DecodeRecord(v)
		}
	})
}

func FuzzDecodeRoundTrip(f *testing.F) {
	for _, fr := range testenv.WireFrames(f) {
		f.Add(fr.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ox.Decode(b)
		if err != nil {
			return
		}
		enc, err := ox.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if _, err := ox.Decode(enc); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}

// checkShortReadsAndBound reads stream again through short reads with a 64-byte
// event bound: the values are those of a plain read, up to the first one over the
// bound, which ends the stream with an error at its offset.
func checkShortReadsAndBound(t *testing.T, stream []byte) {
	var want [][]byte
	plain := ox.NewReader(bytes.NewReader(stream))
	for {
		v, err := plain.Next()
		if err != nil {
			break
		}
		want = append(want, append([]byte(nil), v...))
	}
	rd := ox.NewReader(iotest.HalfReader(bytes.NewReader(stream)))
	rd.SetMaxEvent(64)
	off := 0
	for i := 0; ; i++ {
		v, err := rd.Next()
		if err == io.EOF {
			if i != len(want) || off != len(stream) {
				t.Fatalf("short reads: EOF after %d values, plain read gave %d", i, len(want))
			}
			return
		}
		if err != nil {
			var ce *ox.CorruptError
			if !errors.As(err, &ce) || ce.Offset != int64(off) {
				t.Fatalf("short reads: error %v after %d bytes", err, off)
			}
			if i < len(want) && len(want[i]) <= 64 {
				t.Fatalf("short reads: value %d of %d bytes refused: %v", i, len(want[i]), err)
			}
			return
		}
		if i >= len(want) || !bytes.Equal(v, want[i]) || len(v) > 64 {
			t.Fatalf("short reads: value %d differs from the plain read's", i)
		}
		off += len(v)
	}
}
