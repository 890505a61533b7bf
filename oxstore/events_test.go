package main

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evdoc"
)

// TestEventReaderReadsAsOxReaderDoes checks that eventReader frames, refuses
// and reports corrupt streams exactly as ox.Reader followed by
// evdoc.Builder.Build does, however the bytes arrive.
func TestEventReaderReadsAsOxReaderDoes(t *testing.T) {
	event := func(v map[string]any) []byte {
		b, err := ox.AppendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := event(map[string]any{"type": "t", "id": "a", "start": 1.5, "end": 2.5, "body": map[string]any{"k": []any{int64(1), "x"}}})
	big := event(map[string]any{"type": "t", "id": "big", "body": map[string]any{"s": string(bytes.Repeat([]byte("y"), 200000))}})
	// A map nested deeper than the document builder accepts.
	deep := append([]byte{0x81, 0xa1, 'd'}, bytes.Repeat([]byte{0x91}, 300)...)
	deep = append(deep, 0xc0)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name   string
		stream []byte
	}{
		{"empty", nil},
		{"events", join(a, big, a)},
		{"a refused map is skipped", join(a, deep, a)},
		{"not a map", join(a, []byte{0x01}, a)},
		{"truncated", join(a, big[:1000])},
		{"bad header", join(a, []byte{0x81, 0xc1})},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, slow := range []bool{false, true} {
				var src io.Reader = bytes.NewReader(c.stream)
				if slow {
					src = iotest.HalfReader(src)
				}
				want := readWithOxReader(c.stream)
				got := readWithEventReader(src)
				if got != want {
					t.Errorf("slow %v:\n got %s\nwant %s", slow, got, want)
				}
			}
		})
	}
}

// readWithOxReader describes what ox.Reader and Build make of stream.
func readWithOxReader(stream []byte) string {
	r := ox.NewReader(bytes.NewReader(stream))
	var b evdoc.Builder
	var out bytes.Buffer
	for {
		data, err := r.Next()
		if err != nil {
			describeEnd(&out, err, r.Offset())
			return out.String()
		}
		if d, err := b.Build(data); err != nil {
			out.WriteString("refused;")
		} else {
			out.Write(d.JSON)
			out.WriteByte(';')
		}
	}
}

func readWithEventReader(src io.Reader) string {
	r := &eventReader{r: src}
	var b evdoc.Builder
	var out bytes.Buffer
	for {
		_, refused, err := r.next(&b)
		if err != nil {
			describeEnd(&out, err, r.offset)
			return out.String()
		}
		if refused {
			out.WriteString("refused;")
		} else {
			out.Write(b.Append(nil))
			out.WriteByte(';')
		}
	}
}

func describeEnd(out *bytes.Buffer, err error, offset int64) {
	var corrupt *ox.CorruptError
	switch {
	case err == io.EOF:
		out.WriteString("EOF")
	case errors.As(err, &corrupt):
		out.WriteString(corrupt.Error())
	default:
		out.WriteString("error " + err.Error())
	}
	out.WriteString(" at ")
	out.WriteString(strconv.FormatInt(offset, 10))
}

// FuzzEventReader checks that eventReader reads any stream as ox.Reader and
// evdoc.Builder.Build do.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte{0x81, 0xa1, 'a', 0x01, 0x81, 0xc1})
	f.Add([]byte{0x82, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'x', 0xa3, 'e', 'n', 'd', 0xcb, 0x41, 0xda, 0xbf, 0x3c, 0x8a, 0x00, 0x00, 0x00, 0x80})
	f.Fuzz(func(t *testing.T, stream []byte) {
		if got, want := readWithEventReader(iotest.HalfReader(bytes.NewReader(stream))), readWithOxReader(stream); got != want {
			t.Fatalf("% x:\n got %s\nwant %s", stream, got, want)
		}
	})
}

// TestShapersShareOneLayoutBudget checks that the layouts the shapers of an
// export remember stay within one budget however many types there are, and
// that a row of a layout not remembered is still shaped.
func TestShapersShareOneLayoutBudget(t *testing.T) {
	left := 3 * (fitEntryOverhead + 8)
	var b evdoc.Builder
	var rows []byte
	for i := range 20 {
		s := newShaper()
		s.fitsLeft = &left
		ev, err := ox.AppendValue(nil, map[string]any{"type": "t", "body": map[string]any{strconv.Itoa(i): int64(1)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Prepare(ev); err != nil {
			t.Fatal(err)
		}
		var layout []byte
		rows, layout = b.AppendLayout(rows[:0])
		rows = s.applyAt(rows, 0, layout)
		if left < 0 {
			t.Fatalf("budget overdrawn: %d", left)
		}
	}
	if left == 3*(fitEntryOverhead+8) {
		t.Fatal("no layout remembered")
	}
}
