package zmtp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzReadMsg: any byte stream after the handshake gives messages within the limit
// or an error, never a panic or a large allocation.
func FuzzReadMsg(f *testing.F) {
	f.Add([]byte{0x01, 0x03, 'a', 'b', 'c', 0x00, 0x01, 'x'})
	f.Add([]byte{0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x04, 0x05, 0x04, 'P', 'I', 'N', 'G'})
	f.Add([]byte{0x04, 0x0a, 0x09, 'S', 'U', 'B', 'S', 'C', 'R', 'I', 'B', 'E'})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{r: bufio.NewReader(bytes.NewReader(b)), w: bufio.NewWriter(io.Discard)}
		for range 100 {
			m, err := c.ReadMsg(nil, 1024, nil)
			if err != nil && err != ErrTooLarge {
				return
			}
			total := 0
			for _, f := range m.Frames {
				total += len(f)
			}
			if m.Command == "" && total > 1024 {
				t.Fatalf("message of %d bytes past the 1024 limit", total)
			}
		}
	})
}
