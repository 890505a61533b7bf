package main

import (
	"testing"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// FuzzCheckMessage: whatever the two frames hold, checking them never panics, and
// an accepted event has a type that is safe as a file name and a data frame that is
// exactly one MessagePack map.
func FuzzCheckMessage(f *testing.F) {
	for _, w := range testenv.WireFrames(f) {
		f.Add(w.Meta, w.Data)
	}
	f.Add([]byte{3}, []byte{0x80})
	f.Fuzz(func(t *testing.T, meta, data []byte) {
		ev, _, err := checkMessage([][]byte{meta, data})
		if err != nil {
			return
		}
		if err := ox.ValidTypeName(ev.typ); err != nil {
			t.Fatalf("accepted type %q: %v", ev.typ, err)
		}
		if n, err := ox.ValueLen(data); err != nil || n != len(data) {
			t.Fatalf("accepted data: ValueLen %d, %v, len %d", n, err, len(data))
		}
	})
}
