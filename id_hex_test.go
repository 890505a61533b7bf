package ox

import (
	"encoding/hex"
	"testing"
)

// The id's hex digits match encoding/hex for every nibble value in every
// position.
func TestAppendHexIDMatchesEncodingHex(t *testing.T) {
	ids := [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for b := 0; b < 256; b++ {
		var id [16]byte
		for i := range id {
			id[i] = byte(b + i*17)
		}
		ids = append(ids, id)
	}
	ids = append(ids, newID(unixNano()))
	for _, id := range ids {
		got := string(appendHexID([]byte("x"), &id))
		if want := "x" + hex.EncodeToString(id[:]); got != want {
			t.Fatalf("appendHexID(%x) = %q, want %q", id, got, want)
		}
	}
}
