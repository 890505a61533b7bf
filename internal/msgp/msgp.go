// Package msgp reads the headers of MessagePack values. It is the one place that
// knows the format's type bytes, shared by the root package's decoder and
// internal/evjson's transcoder; both walk untrusted bytes with it.
package msgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrTruncated reports input that ends inside a MessagePack value. The root package
// exports it as ox.ErrTruncated.
var ErrTruncated = errors.New("ox: truncated MessagePack value")

// Kind is the family of a MessagePack value.
type Kind byte

// The kinds of value a header can start.
const (
	Nil Kind = iota
	Bool
	Int
	Uint
	Float32
	Float64
	Str
	Bin
	Ext
	Array
	Map
)

// Header describes the value that starts at some offset.
type Header struct {
	Kind Kind
	Size int  // bytes taken by the header itself (type byte and length)
	N    int  // strings, binaries, extensions: payload length; numbers: bytes after the type byte (0 for fixints); arrays and maps: element count
	Ext  int8 // the extension type, for Ext
}

// Payload reports how many bytes follow the header for scalar kinds (0 for arrays
// and maps, whose elements are values of their own).
func (h Header) Payload() int {
	switch h.Kind {
	case Array, Map, Nil, Bool:
		return 0
	}
	return h.N
}

// ReadHeader decodes the header at b[0:]. It reports ErrTruncated when b is too
// short for the header; it does not check that the payload is present.
func ReadHeader(b []byte) (Header, error) {
	if len(b) == 0 {
		return Header{}, ErrTruncated
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return Header{Kind: Uint, Size: 1}, nil
	case c <= 0x8f:
		return Header{Kind: Map, Size: 1, N: int(c & 0x0f)}, nil
	case c <= 0x9f:
		return Header{Kind: Array, Size: 1, N: int(c & 0x0f)}, nil
	case c <= 0xbf:
		return Header{Kind: Str, Size: 1, N: int(c & 0x1f)}, nil
	case c >= 0xe0:
		return Header{Kind: Int, Size: 1}, nil
	}
	// length reads the header's length field of k bytes, after the type byte.
	length := func(k int) (int, error) {
		if len(b) < 1+k {
			return 0, ErrTruncated
		}
		u := ReadUint(b[1 : 1+k])
		if u > math.MaxInt32 {
			// No slice in memory holds 2 GiB of one value: this is a lying (or
			// cut-off) header. Refusing it keeps every length a non-negative
			// int, also where int has 32 bits.
			return 0, ErrTruncated
		}
		return int(u), nil
	}
	// counted: a value whose header ends with its length field.
	counted := func(k Kind, lenBytes int) (Header, error) {
		n, err := length(lenBytes)
		return Header{Kind: k, Size: 1 + lenBytes, N: n}, err
	}
	switch c {
	case 0xc0:
		return Header{Kind: Nil, Size: 1}, nil
	case 0xc2, 0xc3:
		return Header{Kind: Bool, Size: 1}, nil
	case 0xc4:
		return counted(Bin, 1)
	case 0xc5:
		return counted(Bin, 2)
	case 0xc6:
		return counted(Bin, 4)
	case 0xd9:
		return counted(Str, 1)
	case 0xda:
		return counted(Str, 2)
	case 0xdb:
		return counted(Str, 4)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, then the type byte
		k := 1 << (c - 0xc7)
		n, err := length(k)
		if err != nil || len(b) < 2+k {
			return Header{}, ErrTruncated
		}
		return Header{Kind: Ext, Size: 2 + k, N: n, Ext: int8(b[1+k])}, nil
	case 0xca:
		return Header{Kind: Float32, Size: 1, N: 4}, nil
	case 0xcb:
		return Header{Kind: Float64, Size: 1, N: 8}, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		return Header{Kind: Uint, Size: 1, N: 1 << (c - 0xcc)}, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return Header{Kind: Int, Size: 1, N: 1 << (c - 0xd0)}, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		if len(b) < 2 {
			return Header{}, ErrTruncated
		}
		return Header{Kind: Ext, Size: 2, N: 1 << (c - 0xd4), Ext: int8(b[1])}, nil
	case 0xdc:
		return counted(Array, 2)
	case 0xdd:
		return counted(Array, 4)
	case 0xde:
		return counted(Map, 2)
	case 0xdf:
		return counted(Map, 4)
	}
	return Header{}, fmt.Errorf("ox: invalid MessagePack type byte 0x%02x", c)
}

// ReadUint reads b as a big-endian unsigned integer (at most 8 bytes).
func ReadUint(b []byte) uint64 {
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u
}

// Timestamp decodes the payload of a timestamp extension (type -1) in any of its
// three sizes.
func Timestamp(b []byte) (time.Time, bool) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), true
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&0x3ffffffff), int64(v>>34)).UTC(), true
	case 12:
		ns := binary.BigEndian.Uint32(b[:4])
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(ns)).UTC(), true
	}
	return time.Time{}, false
}
