package ox

import (
	"encoding/binary"
	"math/rand/v2"
)

// newID returns a fresh event id: the Unix seconds of unixNano as 4 big-endian bytes,
// then 12 random bytes, so that ids sort roughly by time (PROTOCOL.md §2). The
// random bytes come from math/rand/v2's ChaCha8-based global source: unique in
// practice, not meant as a secret.
func newID(unixNano int64) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint32(id[0:4], uint32(unixNano/1e9))
	binary.BigEndian.PutUint64(id[4:12], rand.Uint64())
	binary.BigEndian.PutUint32(id[12:16], rand.Uint32())
	return id
}

// appendHexID appends id in lowercase hex, as hex.AppendEncode does, four bytes
// at a time: each nibble spread into a byte of a uint64, then turned into its
// digit with arithmetic instead of a table lookup per byte.
func appendHexID(dst []byte, id *[16]byte) []byte {
	for i := 0; i < 16; i += 4 {
		dst = binary.BigEndian.AppendUint64(dst, hex8(binary.BigEndian.Uint32(id[i:])))
	}
	return dst
}

// hex8 returns the 8 hex digits of x, the first in the top byte.
func hex8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f // one nibble per byte, in order
	// Nibbles of 10 and more get 'a'-'0'-10 = 39 more than '0'.
	over := ((v + 0x0606060606060606) >> 4) & 0x0101010101010101
	return v + 0x3030303030303030 + over*39
}
