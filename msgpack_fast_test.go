package ox

import (
	"testing"

	"github.com/blueox/ox/internal/msgp"
)

// valueLenByHeaders is ValueLen without its inline fast path: every header
// through msgp.ReadHeader.
func valueLenByHeaders(b []byte) (int, error) {
	pos := 0
	pending := 1
	for pending > 0 {
		h, err := msgp.ReadHeader(b[pos:])
		if err != nil {
			return 0, err
		}
		pending--
		switch h.Kind {
		case msgp.Array:
			pending += h.N
		case msgp.Map:
			pending += 2 * h.N
		}
		if pending > len(b)-pos {
			return 0, ErrTruncated
		}
		pos += h.Size + h.Payload()
		if pos > len(b) {
			return 0, ErrTruncated
		}
	}
	return pos, nil
}

// ValueLen's fast path for one-byte headers gives the same length or error as
// decoding every header, whatever the bytes.
func FuzzValueLenFastPathMatchesHeaders(f *testing.F) {
	_, data := testEvent(f, 7)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{0x8f})
	f.Add([]byte{0x81, 0xa1, 'a', 0xcb, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{0x82, 0xa1, 'a', 0xcb, 1, 2, 3, 4, 5, 6, 7, 8, 0xbf})
	f.Add([]byte{0x92, 0xe0, 0x7f, 0xc1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ValueLen(b)
		wn, werr := valueLenByHeaders(b)
		if n != wn || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("ValueLen(%x) = %d, %v; by headers %d, %v", b, n, err, wn, werr)
		}
	})
}

// Type names of printable ASCII take the fast path; the answer is the same as
// the full checks' for names on either side of it.
func TestValidTypeNameFastPathAgrees(t *testing.T) {
	for _, name := range []string{"request", "request.db", "a b", "x~", "x\x7f", "x\x1f", "a/b", `a\b`, ".x", "", "é", "a\u0085b"} {
		fast := len(name) <= MaxNameLen && name != "" && name[0] != '.' && plainName(name)
		if err := checkTypeName(name); fast && err != nil {
			t.Errorf("%q took the fast path but the full check says %v", name, err)
		}
	}
}

// Names parsed from meta frames come out equal whether or not the intern table
// held them, also when two names share a slot, and a repeated name allocates
// nothing.
func TestParseMetaInternsNames(t *testing.T) {
	names := []string{"request", "request.db", "request.cache", "web1", "x", "a.b.c"}
	for i := 0; i < 3; i++ {
		for _, n := range names {
			frame, err := AppendMeta(nil, Meta{Host: n, Type: n + ".t"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseMeta(frame)
			if err != nil || m.Host != n || m.Type != n+".t" {
				t.Fatalf("ParseMeta = %+v, %v; want host %q", m, err, n)
			}
		}
	}
	frame, _ := AppendMeta(nil, Meta{Host: "web1", Type: "request"})
	ParseMeta(frame)
	if allocs := testing.AllocsPerRun(100, func() { ParseMeta(frame) }); allocs != 0 {
		t.Errorf("ParseMeta of a repeated frame allocates %v times", allocs)
	}
}
