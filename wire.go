package ox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
)

// Sizes of the meta frame, the first of the two ZeroMQ frames that carry an event
// (Python struct "!Bd64p64p" in the original).
const (
	MetaSize    = 137 // bytes in a meta frame
	MetaVersion = 3   // the only version the original and ox speak
	MaxNameLen  = 63  // longest host or type name a meta frame can carry
)

// Meta is the fixed-size first frame of an event. It exists so a collector can route
// and count an event without decoding its MessagePack body.
type Meta struct {
	Version uint8   // MetaVersion
	End     float64 // Unix seconds when the event finished
	Host    string  // emitting host, at most MaxNameLen bytes
	Type    string  // event type, at most MaxNameLen bytes
}

// Errors ParseMeta and AppendMeta return; a collector counts drops by them.
var (
	ErrMetaSize    = errors.New("ox: meta frame is not 137 bytes")
	ErrMetaVersion = errors.New("ox: unsupported meta frame version")
	ErrNameTooLong = errors.New("ox: name longer than 63 bytes")
)

// AppendMeta appends the 137-byte meta frame for m to dst. A zero Version means
// MetaVersion. A host or type over 63 bytes is an error: the original truncated
// such names silently, which misfiled events.
func AppendMeta(dst []byte, m Meta) ([]byte, error) {
	if len(m.Host) > MaxNameLen {
		return dst, fmt.Errorf("%w: host %q", ErrNameTooLong, m.Host)
	}
	if len(m.Type) > MaxNameLen {
		return dst, fmt.Errorf("%w: type %q", ErrNameTooLong, m.Type)
	}
	v := m.Version
	if v == 0 {
		v = MetaVersion
	}
	dst = append(dst, v)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(m.End))
	dst = appendPascal(dst, m.Host)
	dst = appendPascal(dst, m.Type)
	return dst, nil
}

func appendPascal(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	dst = append(dst, s...)
	var zeros [MaxNameLen]byte
	return append(dst, zeros[:MaxNameLen-len(s)]...)
}

// ParseMeta decodes a meta frame. A frame of the wrong size or an unknown version is
// an error (wrapping ErrMetaSize or ErrMetaVersion); the strings are copied, so the
// frame may be reused.
func ParseMeta(frame []byte) (Meta, error) {
	if len(frame) != MetaSize {
		return Meta{}, fmt.Errorf("%w (got %d)", ErrMetaSize, len(frame))
	}
	m := Meta{Version: frame[0]}
	if m.Version != MetaVersion {
		return m, fmt.Errorf("%w %d", ErrMetaVersion, m.Version)
	}
	m.End = math.Float64frombits(binary.BigEndian.Uint64(frame[1:9]))
	var err error
	if m.Host, err = parsePascal(frame[9:73], "host"); err != nil {
		return m, err
	}
	if m.Type, err = parsePascal(frame[73:137], "type"); err != nil {
		return m, err
	}
	return m, nil
}

func parsePascal(b []byte, field string) (string, error) {
	n := int(b[0])
	if n > MaxNameLen {
		return "", fmt.Errorf("ox: meta frame %s length %d exceeds %d", field, n, MaxNameLen)
	}
	return internName(b[1 : 1+n]), nil
}

// internTab remembers recent host and type names, so that parsing the meta frames
// of a stream, which repeat a handful of names, allocates nothing. Direct-mapped
// and bounded: names that collide just miss.
var internTab [256]atomic.Pointer[string]

// internName returns string(b), from internTab when it holds it.
func internName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := (uint(len(b))*131 + uint(b[0])*31 + uint(b[len(b)/2])*17 + uint(b[len(b)-1])) % uint(len(internTab))
	if p := internTab[h].Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	internTab[h].Store(&s)
	return s
}
