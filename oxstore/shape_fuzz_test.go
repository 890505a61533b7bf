package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evdoc"
	"github.com/blueox/ox/internal/testenv"
)

// FuzzExportRow feeds any bytes, as an event read from a log file, through
// the document builder and the shape rule twice: every row is valid JSON, a
// row that went through the rule once fits it unchanged, and the shape reads
// back as it was stored.
//
//	go test -run '^$' -fuzz FuzzExportRow -fuzztime 60s -parallel 1 ./oxstore/
func FuzzExportRow(f *testing.F) {
	for _, wf := range testenv.WireFrames(f) {
		f.Add(wf.Data, wf.Data)
	}
	a, _ := ox.AppendValue(nil, map[string]any{"type": "x", "start": 1.0, "end": 2.0, "body": map[string]any{"k": int64(1), "a": []any{"s", 1.5}}})
	b, _ := ox.AppendValue(nil, map[string]any{"type": "x", "pid": "p", "body": map[string]any{"k": "one", "a": []any{map[string]any{}, true}}})
	f.Add(a, b)
	f.Fuzz(func(t *testing.T, first, second []byte) {
		s := newShaper()
		var bld evdoc.Builder
		for _, data := range [][]byte{first, second} {
			d, err := bld.Build(data)
			if err != nil {
				continue
			}
			row := s.apply(nil, d.JSON)
			if !json.Valid(row) {
				t.Fatalf("invalid row %q from %q", row, d.JSON)
			}
			if again := s.apply(nil, row); !bytes.Equal(again, row) {
				t.Fatalf("a shaped row changed again:\n%s\n%s", row, again)
			}
		}
		// Writing rows into a batch and shaping them there, with layouts
		// remembered, gives the same rows as shaping each document alone.
		ref, fast := newShaper(), newShaper()
		var refB, fastB evdoc.Builder
		batch := []byte("prefix\n")
		for _, data := range [][]byte{first, second, first, second, first} {
			d, err := refB.Build(data)
			if err != nil {
				continue
			}
			want := ref.apply(nil, d.JSON)
			if _, err := fastB.Prepare(data); err != nil {
				t.Fatalf("Prepare refused what Build took: %v", err)
			}
			n0 := len(batch)
			var layout []byte
			batch, layout = fastB.AppendLayout(batch)
			batch = fast.applyAt(batch, n0, layout)
			if got := batch[n0:]; !bytes.Equal(got, want) {
				t.Fatalf("row in a batch\n%s\nalone\n%s", got, want)
			}
		}
		// The stored shape reads back as it was.
		stored, err := s.marshal()
		if err != nil {
			t.Fatal(err)
		}
		back := newShaper()
		if err := back.load(stored); err != nil {
			t.Fatalf("load %s: %v", stored, err)
		}
		if again, _ := back.marshal(); !bytes.Equal(again, stored) {
			t.Fatalf("shape changed on the way back:\n%s\n%s", stored, again)
		}
	})
}
