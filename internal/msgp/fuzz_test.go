package msgp

import "testing"

// FuzzReadHeader: any bytes give a header whose sizes are non-negative and within
// the input, or an error; never a panic.
func FuzzReadHeader(f *testing.F) {
	for _, b := range [][]byte{
		{0x80}, {0xde, 0xff, 0xff}, {0xdf, 0xff, 0xff, 0xff, 0xff}, {0xdb, 0x80, 0, 0, 0},
		{0xc6, 0xff, 0xff, 0xff, 0xff}, {0xc9, 0xff, 0xff, 0xff, 0xff, 0xff}, {0xd8, 0x01}, {0xcf},
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(b)
		if err != nil {
			return
		}
		if h.Size < 1 || h.Size > len(b) {
			t.Fatalf("header size %d for %d bytes", h.Size, len(b))
		}
		if h.N < 0 || h.Payload() < 0 {
			t.Fatalf("negative length: %+v", h)
		}
	})
}

func TestHugeLengthsAreRefused(t *testing.T) {
	for _, b := range [][]byte{
		{0xdb, 0x80, 0, 0, 0},          // str32 of 2^31 bytes
		{0xc6, 0xff, 0xff, 0xff, 0xff}, // bin32 of 2^32-1
		{0xdd, 0xff, 0xff, 0xff, 0xff}, // array32
		{0xdf, 0xff, 0xff, 0xff, 0xff}, // map32
	} {
		if _, err := ReadHeader(b); err != ErrTruncated {
			t.Errorf("%x: err = %v, want ErrTruncated", b, err)
		}
	}
}
