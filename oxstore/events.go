package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evdoc"
)

// eventReader splits a log stream into events as ox.Reader does, with the
// same errors, but frames each event with the walk that also prepares its
// document (evdoc.Builder.PrepareNext), so export walks each event's bytes
// once to find and index it instead of twice. Memory grows only with the
// bytes actually read, whatever length a header claims.
type eventReader struct {
	r      io.Reader
	buf    []byte
	start  int   // first unconsumed byte in buf
	offset int64 // stream offset of buf[start]
	eof    bool
	err    error
}

// eventChunk is the least an eventReader asks its source for at a time.
const eventChunk = 256 << 10

// next prepares the next event in b and returns it. refused reports a map
// that b refuses to build a document of (as Build would), which is skipped.
// At the end of the stream next returns io.EOF; a stream holding something
// other than a map, or stopping inside one, gives an *ox.CorruptError.
func (r *eventReader) next(b *evdoc.Builder) (d evdoc.Doc, refused bool, err error) {
	if r.err != nil {
		return d, false, r.err
	}
	for {
		avail := r.buf[r.start:]
		if len(avail) > 0 {
			if c := avail[0]; !(c >= 0x80 && c <= 0x8f) && c != 0xde && c != 0xdf {
				return d, false, r.fail(&ox.CorruptError{Offset: r.offset, Err: fmt.Errorf("value starting with 0x%02x is not a map", c)})
			}
			d, n, err := b.PrepareNext(avail)
			if err == nil {
				r.consume(n)
				return d, false, nil
			}
			if !errors.Is(err, ox.ErrTruncated) {
				// A map the document builder refuses: frame it as
				// ox.Reader does, and skip it.
				n, lerr := ox.ValueLen(avail)
				if lerr == nil {
					r.consume(n)
					return evdoc.Doc{}, true, nil
				}
				if !errors.Is(lerr, ox.ErrTruncated) {
					return d, false, r.fail(&ox.CorruptError{Offset: r.offset, Err: lerr})
				}
			}
		}
		if r.eof {
			if len(avail) == 0 {
				return d, false, r.fail(io.EOF)
			}
			// The stream ends inside the event, as far as the builder can
			// tell; ox.Reader's framing may find a different fault first.
			if n, lerr := ox.ValueLen(avail); lerr == nil {
				r.consume(n)
				return evdoc.Doc{}, true, nil
			} else if !errors.Is(lerr, ox.ErrTruncated) {
				return d, false, r.fail(&ox.CorruptError{Offset: r.offset, Err: lerr})
			}
			return d, false, r.fail(&ox.CorruptError{Offset: r.offset, Err: ox.ErrTruncated})
		}
		if err := r.fill(); err != nil {
			return d, false, r.fail(err)
		}
	}
}

func (r *eventReader) consume(n int) {
	r.start += n
	r.offset += int64(n)
}

func (r *eventReader) fail(err error) error {
	r.err = err
	return err
}

// fill reads more bytes, at least as many again as are buffered, so a large
// event is rescanned only a logarithmic number of times.
func (r *eventReader) fill() error {
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:])
		r.buf = r.buf[:n]
		r.start = 0
	}
	want := max(eventChunk, len(r.buf))
	if cap(r.buf)-len(r.buf) < want {
		nb := make([]byte, len(r.buf), len(r.buf)+want)
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if err == io.EOF {
		r.eof = true
		return nil
	}
	return err
}
