package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// On-disk layout. A segment file starts with an 8-byte magic that carries the format
// version, then holds records back to back:
//
//	offset size field
//	0      4    CRC-32C (Castagnoli) of bytes 4..end of the record
//	4      4    meta length m
//	8      4    data length d
//	12     8    sequence number
//	20     8    append time, Unix nanoseconds
//	28     m    meta frame
//	28+m   d    data frame
//
// All integers are big-endian.
const (
	segMagic     = "OXSPOOL\x01"
	recHeaderLen = 28
	// MaxMetaLen and MaxDataLen bound one record; longer frames are refused by
	// Append and a header claiming more is corrupt.
	MaxMetaLen = 1 << 16
	MaxDataLen = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors from decoding a record. errShort means the bytes end inside the record (a
// torn write at the tail); errCorrupt means the bytes are not a valid record.
var (
	errShort   = errors.New("spool: truncated record")
	errCorrupt = errors.New("spool: corrupt record")
)

// Record is one spooled event: its sequence number, when it was appended, and its two
// frames as received.
type Record struct {
	Seq  uint64
	Time int64 // Unix nanoseconds when the record was appended
	Meta []byte
	Data []byte
}

// appendRecord encodes r onto dst.
func appendRecord(dst []byte, r Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recHeaderLen)...)
	h := dst[start:]
	binary.BigEndian.PutUint32(h[4:], uint32(len(r.Meta)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(r.Data)))
	binary.BigEndian.PutUint64(h[12:], r.Seq)
	binary.BigEndian.PutUint64(h[20:], uint64(r.Time))
	dst = append(dst, r.Meta...)
	dst = append(dst, r.Data...)
	crc := crc32.Checksum(dst[start+4:], castagnoli)
	binary.BigEndian.PutUint32(dst[start:], crc)
	return dst
}

func recordLen(meta, data int) int64 { return int64(recHeaderLen + meta + data) }

// parseHeader validates the length fields of a record header and returns the meta and
// data lengths.
func parseHeader(h []byte) (m, d int, err error) {
	if len(h) < recHeaderLen {
		return 0, 0, errShort
	}
	mu := binary.BigEndian.Uint32(h[4:])
	du := binary.BigEndian.Uint32(h[8:])
	if mu > MaxMetaLen || du > MaxDataLen {
		return 0, 0, errCorrupt
	}
	return int(mu), int(du), nil
}

// decodeRecord decodes the record at the start of b. The returned record's frames
// alias b. n is the number of bytes the record occupies.
func decodeRecord(b []byte) (r Record, n int, err error) {
	m, d, err := parseHeader(b)
	if err != nil {
		return Record{}, 0, err
	}
	n = recHeaderLen + m + d
	if len(b) < n {
		return Record{}, 0, errShort
	}
	if crc32.Checksum(b[4:n], castagnoli) != binary.BigEndian.Uint32(b) {
		return Record{}, 0, errCorrupt
	}
	r.Seq = binary.BigEndian.Uint64(b[12:])
	r.Time = int64(binary.BigEndian.Uint64(b[20:]))
	r.Meta = b[recHeaderLen : recHeaderLen+m : recHeaderLen+m]
	r.Data = b[recHeaderLen+m : n : n]
	return r, n, nil
}
