// Package fwdlink is ox's acknowledged forwarding link between collectors: a
// Forwarder sends batches of spooled events to a Receiver over ZeroMQ (ZMTP 3.0,
// DEALER to ROUTER), the Receiver hands them to a callback that returns once they are
// written and flushed, then acknowledges them; the Forwarder deletes spool segments only
// when acknowledged. Resent batches are recognised by (forwarder id, sequence number)
// and dropped. docs/forwarding.md specifies the frames.
package fwdlink

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/blueox/ox/internal/membudget"
)

// Version is the link protocol version this package speaks.
const Version = 1

// Frame types.
const (
	TypeHello = 1 // forwarder -> receiver, first frame on a connection
	TypeBatch = 2 // forwarder -> receiver: events
	TypeAck   = 3 // receiver -> forwarder: highest sequence number written
	TypePing  = 4 // forwarder -> receiver when idle; answered by an ack
	TypeError = 5 // receiver -> forwarder: the payload says why, then the connection closes
)

// FlagDeflate marks a batch payload compressed with DEFLATE (RFC 1951).
const FlagDeflate = 1

const (
	magic = "OXF"
	// MaxIDLen is the longest forwarder id.
	MaxIDLen = 64
	// MaxBatchEvents and MaxPayload bound one batch (after decompression).
	MaxBatchEvents = 1 << 20
	MaxPayload     = 64 << 20
	headerMin      = 3 + 1 + 1 + 1 + 1 + 8 + 4
)

// ErrFrame is wrapped by every error about a malformed frame.
var ErrFrame = errors.New("fwdlink: malformed frame")

// Frame is one link message. Every frame is a single ZeroMQ message part:
//
//	offset size field
//	0      3    magic "OXF"
//	3      1    version (1)
//	4      1    type
//	5      1    flags (bit 0: payload is DEFLATE-compressed)
//	6      1    forwarder id length n (0..64)
//	7      n    forwarder id
//	7+n    8    sequence number: batch = first event's; ack = highest written;
//	            hello and ping = forwarder's highest acknowledged
//	15+n   4    event count (batch), else 0
//	19+n   ...  payload: batch = events; error = message text; else empty
//
// A batch's events, after decompression, are count repetitions of
// (u32 meta length, meta, u32 data length, data). Integers are big-endian.
type Frame struct {
	Type    byte
	Flags   byte
	ID      string
	Seq     uint64
	Count   uint32
	Payload []byte
}

// Event is one event's two frames as they arrived on the collection port.
type Event struct {
	Meta []byte
	Data []byte
}

// AppendFrame encodes f onto dst.
func AppendFrame(dst []byte, f Frame) []byte {
	dst = append(dst, magic...)
	dst = append(dst, Version, f.Type, f.Flags, byte(len(f.ID)))
	dst = append(dst, f.ID...)
	dst = binary.BigEndian.AppendUint64(dst, f.Seq)
	dst = binary.BigEndian.AppendUint32(dst, f.Count)
	return append(dst, f.Payload...)
}

// ErrVersion is returned by DecodeFrame for a frame of another protocol version.
var ErrVersion = errors.New("fwdlink: unsupported protocol version")

// DecodeFrame decodes one link frame. The payload aliases b.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < headerMin {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrFrame, len(b))
	}
	if string(b[:3]) != magic {
		return Frame{}, fmt.Errorf("%w: bad magic", ErrFrame)
	}
	if b[3] != Version {
		return Frame{}, fmt.Errorf("%w %d (this side speaks %d)", ErrVersion, b[3], Version)
	}
	f := Frame{Type: b[4], Flags: b[5]}
	n := int(b[6])
	if n > MaxIDLen || len(b) < headerMin+n {
		return Frame{}, fmt.Errorf("%w: bad id length %d", ErrFrame, n)
	}
	f.ID = string(b[7 : 7+n])
	if !validID(f.ID) {
		return Frame{}, fmt.Errorf("%w: forwarder id %q has characters outside [0-9A-Za-z._:-]", ErrFrame, f.ID)
	}
	p := b[7+n:]
	f.Seq = binary.BigEndian.Uint64(p)
	f.Count = binary.BigEndian.Uint32(p[8:])
	f.Payload = p[12:]
	switch f.Type {
	case TypeHello, TypePing, TypeAck:
		if len(f.Payload) != 0 || f.Count != 0 || f.Flags != 0 {
			return Frame{}, fmt.Errorf("%w: type %d carries a payload", ErrFrame, f.Type)
		}
	case TypeBatch:
		if f.Count == 0 || f.Count > MaxBatchEvents || f.Seq == 0 || f.Seq+uint64(f.Count) < f.Seq {
			return Frame{}, fmt.Errorf("%w: batch of %d from %d", ErrFrame, f.Count, f.Seq)
		}
		if f.Flags&^FlagDeflate != 0 {
			return Frame{}, fmt.Errorf("%w: unknown flags %#x", ErrFrame, f.Flags)
		}
	case TypeError:
	default:
		return Frame{}, fmt.Errorf("%w: unknown type %d", ErrFrame, f.Type)
	}
	if f.Type != TypeError && f.ID == "" {
		return Frame{}, fmt.Errorf("%w: no forwarder id", ErrFrame)
	}
	return f, nil
}

// appendEvents encodes events as a batch payload.
func appendEvents(dst []byte, evs []Event) []byte {
	for _, e := range evs {
		dst = appendEvent(dst, e.Meta, e.Data)
	}
	return dst
}

func appendEvent(dst, meta, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(meta)))
	dst = append(dst, meta...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}

var flateReaders = sync.Pool{New: func() any { return flate.NewReader(nil) }}

// BatchEvents decodes the events of a batch frame, decompressing at most MaxPayload
// bytes. The events alias the frame's payload or a fresh buffer.
func BatchEvents(f Frame) ([]Event, error) { return batchEvents(f, MaxPayload) }

func batchEvents(f Frame, limit int64) ([]Event, error) {
	evs, _, err := batchEventsIn(f, limit, nil)
	return evs, err
}

// batchEventsIn is batchEvents with decompression reserving its memory from b; held
// is what the events hold of b, for the caller to give back once done with them.
func batchEventsIn(f Frame, limit int64, b *membudget.Budget) (evs []Event, held int64, err error) {
	if f.Type != TypeBatch {
		return nil, 0, fmt.Errorf("%w: not a batch", ErrFrame)
	}
	p := f.Payload
	if f.Flags&FlagDeflate != 0 {
		if p, held, err = inflate(p, limit, b); err != nil {
			return nil, 0, err
		}
		defer func() {
			if err != nil {
				b.Give(held)
				held = 0
			}
		}()
	}
	evs, err = splitEvents(f, p)
	return evs, held, err
}

// splitEvents cuts a batch's decompressed payload p into its events.
func splitEvents(f Frame, p []byte) ([]Event, error) {
	if uint64(f.Count)*8 > uint64(len(p)) {
		return nil, fmt.Errorf("%w: %d events cannot fit in %d bytes", ErrFrame, f.Count, len(p))
	}
	evs := make([]Event, 0, f.Count)
	for range f.Count {
		var e Event
		var ok bool
		if e.Meta, p, ok = cutField(p); !ok {
			return nil, fmt.Errorf("%w: event %d truncated", ErrFrame, len(evs))
		}
		if e.Data, p, ok = cutField(p); !ok {
			return nil, fmt.Errorf("%w: event %d truncated", ErrFrame, len(evs))
		}
		evs = append(evs, e)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last event", ErrFrame, len(p))
	}
	return evs, nil
}

func cutField(p []byte) (field, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, p, false
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, p, false
	}
	return p[4 : 4+n : 4+n], p[4+n:], true
}

// compressor deflates batch payloads, reusing its state.
type compressor struct {
	w   *flate.Writer
	buf bytes.Buffer
}

func (c *compressor) deflate(p []byte) []byte {
	c.buf.Reset()
	if c.w == nil {
		c.w, _ = flate.NewWriter(&c.buf, flate.BestSpeed)
	} else {
		c.w.Reset(&c.buf)
	}
	c.w.Write(p)
	c.w.Close()
	return c.buf.Bytes()
}

// validID reports whether id uses only [0-9A-Za-z._:-], so it is safe in logs and in
// the receiver's state file.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
