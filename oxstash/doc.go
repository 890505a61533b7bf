package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk"
)

// timestampLayout is ISO 8601 in UTC with a Z and microseconds, the precision
// BlueOx's float times carry.
const timestampLayout = "2006-01-02T15:04:05.000000Z"

// converter turns events into bulk documents (PROTOCOL.md §11).
type converter struct {
	indexName string           // fixed index, or ""
	indexBase string           // otherwise <indexBase>-YYYY.MM.DD of the end time
	now       func() time.Time // index day for an event without an end time

	buf  []byte   // the last document; esbulk's Add copies it
	keys []string // scratch for sorting map keys, used as a stack
}

// event is what the converter made of one data frame.
type event struct {
	typ string
	doc esbulk.Doc
}

// convert builds the document for one data frame (valid until the next call): the event's own keys (type
// kept as a field), "duration" = end - start in seconds and "@timestamp" = the
// end time. Its _id is a hash of the frame's bytes, so shipping the same event
// twice overwrites instead of duplicating. The body is always valid JSON:
// binary values become text when they are UTF-8 and base64 otherwise, NaN and
// infinities become null, invalid UTF-8 in strings becomes U+FFFD.
func (c *converter) convert(data []byte) (event, error) {
	v, err := ox.Decode(data)
	if err != nil {
		return event{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return event{}, fmt.Errorf("event is not a map")
	}
	var ev event
	ev.typ = text(m["type"])
	start, hasStart := number(m["start"])
	end, hasEnd := number(m["end"])
	var endTime time.Time
	if hasEnd {
		// A time ISO 8601 (and an index name) cannot carry counts as none.
		if endTime = ox.FloatTime(end); endTime.IsZero() || endTime.Year() < 1 || endTime.Year() > 9999 {
			hasEnd = false
		}
	}

	buf := append(c.buf[:0], '{')
	if hasEnd {
		buf = append(buf, `"@timestamp":"`...)
		buf = endTime.AppendFormat(buf, timestampLayout)
		buf = append(buf, `",`...)
	}
	if hasStart && hasEnd {
		d := math.Round((end-start)*1e6) / 1e6
		buf = append(buf, `"duration":`...)
		buf = appendFloat(buf, d)
		buf = append(buf, ',')
	}
	keys := c.sortedKeys(m)
	for _, k := range keys {
		if (k == "@timestamp" && hasEnd) || (k == "duration" && hasStart && hasEnd) {
			continue // ours win over an event's own keys of these names
		}
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = c.appendJSON(buf, m[k])
		buf = append(buf, ',')
	}
	c.keys = c.keys[:len(c.keys)-len(keys)]
	if buf[len(buf)-1] == ',' {
		buf = buf[:len(buf)-1]
	}
	buf = append(buf, '}')
	c.buf = buf

	ev.doc.Body = buf
	ev.doc.ID = eventID(data)
	switch {
	case c.indexName != "":
		ev.doc.Index = c.indexName
	case hasEnd:
		ev.doc.Index = c.indexBase + "-" + endTime.Format("2006.01.02")
	default:
		ev.doc.Index = c.indexBase + "-" + c.now().UTC().Format("2006.01.02")
	}
	return ev, nil
}

// eventID is the document _id: the first 128 bits of the SHA-256 of the event's
// bytes, in hex.
func eventID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

func text(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// sortedKeys pushes m's keys, sorted, on c.keys and returns them; the caller
// pops them with c.keys = c.keys[:len(c.keys)-len(keys)]. Nested calls may move
// c.keys, but the returned slice stays valid.
func (c *converter) sortedKeys(m map[string]any) []string {
	start := len(c.keys)
	for k := range m {
		c.keys = append(c.keys, k)
	}
	keys := c.keys[start:]
	slices.Sort(keys)
	return keys
}

// appendJSON appends v, a value from ox.Decode, as JSON.
func (c *converter) appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case float64:
		return appendFloat(dst, v)
	case string:
		return appendString(dst, v)
	case []byte:
		if utf8.Valid(v) {
			return appendString(dst, string(v))
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = c.appendJSON(dst, e)
		}
		return append(dst, ']')
	case map[string]any:
		dst = append(dst, '{')
		keys := c.sortedKeys(v)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = c.appendJSON(dst, v[k])
		}
		c.keys = c.keys[:len(c.keys)-len(keys)]
		return append(dst, '}')
	case time.Time:
		dst = append(dst, '"')
		dst = v.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case ox.Ext:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Data)
		return append(dst, '"')
	}
	return appendString(dst, fmt.Sprint(v))
}

// appendFloat writes f as a JSON number that still reads as a float (1.0, not
// 1), so that Elasticsearch's dynamic mapping sees the type the event had; NaN
// and infinities, which JSON cannot carry, become null.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-09 -> 1e-9, as encoding/json writes it.
		if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but some line-oriented readers split on them.
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
