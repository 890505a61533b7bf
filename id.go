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
