package zmtp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzReadMsg: any byte stream after the handshake gives messages within the limit
// or an error, never a panic; a message has at most MaxFrames frames, and the memory
// ReadMsg takes for one (frames from alloc, slice headers) stays within the limit
// plus a slice header per frame, whatever the frame headers announce.
func FuzzReadMsg(f *testing.F) {
	f.Add([]byte{0x01, 0x03, 'a', 'b', 'c', 0x00, 0x01, 'x'})
	f.Add([]byte{0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x04, 0x05, 0x04, 'P', 'I', 'N', 'G'})
	f.Add([]byte{0x04, 0x0a, 0x09, 'S', 'U', 'B', 'S', 'C', 'R', 'I', 'B', 'E'})
	// The crash of issue 11: the sum of the sizes wrapped past 2^64.
	f.Add([]byte{0x01, 0x03, 0x30, 0x30, 0x30, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(bytes.Repeat([]byte{0x01, 0x00}, 100))
	const limit = 1024
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{r: bufio.NewReader(bytes.NewReader(b)), w: bufio.NewWriter(io.Discard)}
		var frames [][]byte
		for range 100 {
			allocated := 0
			alloc := func(n int) []byte {
				if n < 0 {
					t.Fatalf("alloc(%d)", n)
				}
				allocated += n
				return make([]byte, n)
			}
			m, err := c.ReadMsg(frames, limit, alloc)
			if allocated > limit {
				t.Fatalf("%d bytes allocated for a message, limit %d", allocated, limit)
			}
			if err != nil && err != ErrTooLarge {
				return
			}
			if len(m.Frames) > MaxFrames || cap(m.Frames) > 2*MaxFrames {
				t.Fatalf("%d frames (capacity %d), bound %d", len(m.Frames), cap(m.Frames), MaxFrames)
			}
			total := 0
			for _, f := range m.Frames {
				total += len(f)
			}
			if m.Command == "" && total > limit {
				t.Fatalf("message of %d bytes past the %d limit", total, limit)
			}
			frames = m.Frames
		}
	})
}
