package ox

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// CorruptError reports a stream of MessagePack maps (a log file, stdin) that is not
// well formed at Offset. Err is ErrTruncated when the stream stops inside a value.
type CorruptError struct {
	Offset int64
	Err    error
}

func (e *CorruptError) Error() string {
	if errors.Is(e.Err, ErrTruncated) {
		return fmt.Sprintf("ox: stream truncated: incomplete event at byte %d", e.Offset)
	}
	return fmt.Sprintf("ox: stream corrupt at byte %d: %v", e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// DefaultMaxEvent is the largest event a Reader accepts unless told otherwise
// (SetMaxEvent): oxd's default --max-event-bytes, so anything oxd wrote reads back.
const DefaultMaxEvent = 16 << 20

// ErrEventTooLarge is wrapped by the *CorruptError a Reader returns for an event
// larger than its bound.
var ErrEventTooLarge = errors.New("event larger than the bound")

// Reader splits a stream of concatenated MessagePack maps, the format of BlueOx log
// files, into one raw value at a time. Memory grows only with the bytes actually
// read, whatever length a (possibly hostile) header claims, and at most to the
// event bound; the work is linear in the input: buffers double, and an incomplete
// value over 64 KiB is rescanned only once the bytes buffered for it have doubled.
type Reader struct {
	r       io.Reader
	buf     []byte
	start   int   // first unconsumed byte in buf
	offset  int64 // stream offset of buf[start]
	scanned int   // bytes of buf[start:] the last scan found incomplete
	max     int
	eof     bool
	err     error
}

// rescanAll: an incomplete value shorter than this is rescanned after every read,
// so events of a live stream come out as soon as their last byte arrives; a longer
// one only once its buffered bytes have doubled.
const rescanAll = 64 << 10

// readChunk is the least a Reader asks its source for at a time.
const readChunk = 64 << 10

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, max: DefaultMaxEvent}
}

// SetMaxEvent sets the largest event Next accepts (n < 1: DefaultMaxEvent). A larger
// one ends the stream with a *CorruptError at its offset, wrapping ErrEventTooLarge.
func (r *Reader) SetMaxEvent(n int) {
	if n < 1 {
		n = DefaultMaxEvent
	}
	r.max = n
}

// Offset returns the stream offset of the next value Next will return.
func (r *Reader) Offset() int64 { return r.offset }

// Next returns the raw bytes of the next map; they are valid until the next call.
// It returns io.EOF at a clean end of the stream, and a *CorruptError when the
// stream holds something other than a map or stops inside one. Read errors of the
// underlying reader are returned as they are.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		avail := r.buf[r.start:]
		if len(avail) > 0 && (len(avail) < rescanAll || len(avail) >= 2*r.scanned || r.eof || len(avail) > r.max) {
			if c := avail[0]; !(c >= 0x80 && c <= 0x8f) && c != 0xde && c != 0xdf {
				return nil, r.fail(&CorruptError{Offset: r.offset, Err: fmt.Errorf("value starting with 0x%02x is not a map", c)})
			}
			n, err := ValueLen(avail)
			if err == nil && n <= r.max {
				r.start += n
				r.offset += int64(n)
				r.scanned = 0
				return avail[:n:n], nil
			}
			if err == nil || len(avail) > r.max {
				return nil, r.fail(&CorruptError{Offset: r.offset, Err: fmt.Errorf("%w: more than %d bytes", ErrEventTooLarge, r.max)})
			}
			if !errors.Is(err, ErrTruncated) {
				return nil, r.fail(&CorruptError{Offset: r.offset, Err: err})
			}
			r.scanned = len(avail)
		}
		if r.eof {
			if len(avail) == 0 {
				return nil, r.fail(io.EOF)
			}
			return nil, r.fail(&CorruptError{Offset: r.offset, Err: ErrTruncated})
		}
		if err := r.fill(); err != nil {
			return nil, r.fail(err)
		}
	}
}

func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// fill reads more bytes into the free end of the buffer. Only when less than a
// chunk is free does it move the unconsumed bytes to the front or, when they fill
// more than half the buffer, into one twice as large: each byte is copied a
// bounded number of times however short the source's reads are.
func (r *Reader) fill() error {
	if cap(r.buf)-len(r.buf) < readChunk {
		unread := len(r.buf) - r.start
		if r.start > 0 && unread <= cap(r.buf)/2 {
			copy(r.buf, r.buf[r.start:])
			r.buf = r.buf[:unread]
		} else {
			nb := make([]byte, unread, max(2*cap(r.buf), unread+readChunk))
			copy(nb, r.buf[r.start:])
			r.buf = nb
		}
		r.start = 0
	}
	n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if err == io.EOF {
		r.eof = true
		return nil
	}
	return err
}

// NewLogReader returns a reader of r's decompressed bytes: it recognises gzip (any
// number of members) and bzip2 by their magic bytes, and passes anything else
// through, so plain, .gz and .bz2 log files read alike.
func NewLogReader(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(3)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("ox: gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return bzip2.NewReader(br), nil
	}
	return br, nil
}
