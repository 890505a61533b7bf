package ox

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
	"time"
)

// shortReader returns at most n bytes per Read, as gzip, bzip2 and pipes do.
type shortReader struct {
	r io.Reader
	n int
}

func (s *shortReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// A gzip file holding one map that announces 2^32-1 entries: refused at the event
// bound with its offset, quickly and in bounded memory (issue 11, finding 7).
func TestReaderRefusesAnEventPastTheBoundQuickly(t *testing.T) {
	var raw bytes.Buffer
	small := []byte{0x81, 0xa1, 'k', 0x01}
	raw.Write(small)
	raw.Write([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	raw.Write(bytes.Repeat([]byte{0x01}, 64<<20))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	start := time.Now()
	zr, err := gzip.NewReader(bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(&shortReader{zr, 4096})
	if v, err := r.Next(); err != nil || !bytes.Equal(v, small) {
		t.Fatalf("first event: %x, %v", v, err)
	}
	_, err = r.Next()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrEventTooLarge) || ce.Offset != int64(len(small)) {
		t.Fatalf("err = %v, want ErrEventTooLarge at byte %d", err, len(small))
	}
	if cap(r.buf) > 2*DefaultMaxEvent+2*readChunk {
		t.Errorf("buffer of %d bytes for a bound of %d", cap(r.buf), DefaultMaxEvent)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// Reading a large valid event through tiny reads is linear: the time for 8 MiB is
// not much more than 8 times the time for 1 MiB.
func TestReaderIsLinearWithShortReads(t *testing.T) {
	event := func(n int) []byte {
		b := []byte{0x81, 0xa1, 'k', 0xc6}
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		return append(b, make([]byte, n)...)
	}
	read := func(n int) time.Duration {
		start := time.Now()
		r := NewReader(&shortReader{bytes.NewReader(event(n)), 512})
		r.SetMaxEvent(32 << 20)
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	read(1 << 20) // warm up
	small, large := read(1<<20), read(8<<20)
	if large > 30*small+100*time.Millisecond {
		t.Errorf("1 MiB in %v, 8 MiB in %v: not linear", small, large)
	}
}

func TestReaderSmallEventsComeOutAsTheyArrive(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr)
	ev := []byte{0x81, 0xa1, 'k', 0x01}
	done := make(chan error, 1)
	go func() {
		v, err := r.Next()
		if err == nil && !bytes.Equal(v, ev) {
			err = errors.New("wrong event")
		}
		done <- err
	}()
	pw.Write(ev[:2]) // returns once the reader has taken the bytes
	go pw.Write(ev[2:])
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an event whose last byte arrived was not returned")
	}
	pw.Close()
}
