// Package evjson writes BlueOx events as JSON that is valid whatever the event
// holds, for the tools that print or ship events (oxview, oxctl, oxstash). It
// writes values decoded by ox.Decode (Append, AppendIndent, AppendValue), or
// transcodes raw MessagePack without decoding it into Go values first
// (Transcoder, AppendMsgpack), both the same way.
//
// The mapping, for what JSON cannot say directly:
//   - map keys are written sorted, so the same event always prints the same way;
//     keys that are not strings are written as ox.Decode stringifies them, and
//     of two equal keys the last one wins, as in ox.Decode's map;
//   - a string with bytes that are not UTF-8 keeps its valid parts, each invalid
//     byte becomes U+FFFD;
//   - bin data that is valid UTF-8 is written as a string (old clients sent text as
//     bin), any other bin data as a standard base64 string;
//   - NaN, +Inf and -Inf, which JSON has no number for, are the strings "NaN",
//     "Infinity" and "-Infinity" (or null, see Options);
//   - a float keeps a fraction part (1.0, not 1), so floats stay floats;
//   - integers are written exactly, also above 2^63;
//   - a MessagePack timestamp is an RFC 3339 string, another extension the object
//     {"ext": <type>, "data": <base64>} (or the base64 string alone, see Options).
package evjson

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/blueox/ox"
)

// Options say how to write what JSON cannot say directly. The zero value is
// the form oxview prints.
type Options struct {
	// Indent, when not empty, puts each element of an array or object on its
	// own line, indented by Indent per level (like json.MarshalIndent with an
	// empty prefix). Empty means compact output.
	Indent string
	// NonFiniteNull writes NaN and infinities as null instead of the strings
	// "NaN", "Infinity" and "-Infinity".
	NonFiniteNull bool
	// ShortExponent writes exponents without a leading zero, as encoding/json
	// does (1e-9 rather than 1e-09).
	ShortExponent bool
	// ExtData writes an extension other than a timestamp as the base64 string
	// of its data alone, instead of the object {"data": ..., "ext": <type>}.
	ExtData bool
}

// Append appends v, a value from ox.Decode, as compact JSON to dst.
func Append(dst []byte, v any) []byte {
	return AppendValue(dst, v, Options{})
}

// AppendIndent appends v as JSON to dst, each nested element on its own line
// indented by indent per level (like json.MarshalIndent with an empty prefix). An
// empty indent gives compact output.
func AppendIndent(dst []byte, v any, indent string) []byte {
	return AppendValue(dst, v, Options{Indent: indent})
}

// AppendValue appends v, a value from ox.Decode, as JSON written as opts say.
// Values of other types are written as the string fmt.Sprint makes of them.
func AppendValue(dst []byte, v any, opts Options) []byte {
	return appendValue(dst, v, &opts, 0)
}

// appendValue writes v at nesting level.
func appendValue(dst []byte, v any, o *Options, level int) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, v)
	case string:
		return appendString(dst, v)
	case []byte:
		return appendBin(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case float64:
		return appendFloat(dst, v, o)
	case float32:
		return appendFloat(dst, float64(v), o)
	case time.Time:
		return appendTime(dst, v)
	case ox.Ext:
		return appendExt(dst, v.Type, v.Data, o, level)
	case []any:
		if len(v) == 0 {
			return append(dst, "[]"...)
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, o.Indent, level+1)
			dst = appendValue(dst, e, o, level+1)
		}
		dst = newline(dst, o.Indent, level)
		return append(dst, ']')
	case map[string]any:
		if len(v) == 0 {
			return append(dst, "{}"...)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendKey(dst, k, o.Indent, level+1)
			dst = appendValue(dst, v[k], o, level+1)
		}
		dst = newline(dst, o.Indent, level)
		return append(dst, '}')
	}
	return appendString(dst, fmt.Sprint(v))
}

// appendKey writes the start of an object member at level: its line break and
// indentation, the key and the colon.
func appendKey[S string | []byte](dst []byte, key S, indent string, level int) []byte {
	dst = newline(dst, indent, level)
	dst = appendString(dst, key)
	dst = append(dst, ':')
	if indent != "" {
		dst = append(dst, ' ')
	}
	return dst
}

func newline(dst []byte, indent string, level int) []byte {
	if indent == "" {
		return dst
	}
	dst = append(dst, '\n')
	for range level {
		dst = append(dst, indent...)
	}
	return dst
}

// appendBin writes bin data: as a string when it is UTF-8, else as base64.
func appendBin(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return appendString(dst, b)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendTime writes a timestamp as an RFC 3339 string in UTC (its characters
// need no escaping).
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendExt writes an extension other than a timestamp at level.
func appendExt(dst []byte, typ int8, data []byte, o *Options, level int) []byte {
	if o.ExtData {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, '"')
	}
	dst = append(dst, '{')
	dst = appendKey(dst, "data", o.Indent, level+1)
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, data)
	dst = append(dst, `",`...)
	dst = appendKey(dst, "ext", o.Indent, level+1)
	dst = strconv.AppendInt(dst, int64(typ), 10)
	dst = newline(dst, o.Indent, level)
	return append(dst, '}')
}

// AppendFloat appends f as a JSON number with a fraction part, or as one of the
// strings "NaN", "Infinity", "-Infinity".
func AppendFloat(dst []byte, f float64) []byte {
	return appendFloat(dst, f, &Options{})
}

// AppendFloat appends f as a JSON number with a fraction part, with NaN,
// infinities and exponents written as o says.
func (o Options) AppendFloat(dst []byte, f float64) []byte {
	return appendFloat(dst, f, &o)
}

func appendFloat(dst []byte, f float64, o *Options) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		if o.NonFiniteNull {
			return append(dst, "null"...)
		}
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		case f > 0:
			return append(dst, `"Infinity"`...)
		}
		return append(dst, `"-Infinity"`...)
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
		if o.ShortExponent {
			// 1e-09 -> 1e-9, as encoding/json writes it.
			if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
				dst[n-2] = dst[n-1]
				dst = dst[:n-1]
			}
		}
		return dst
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// AppendString appends s as a JSON string; invalid UTF-8 bytes become U+FFFD.
func AppendString(dst []byte, s string) []byte {
	return appendString(dst, s)
}

// appendString writes s, a string or the bytes of one, as a JSON string:
// invalid UTF-8 bytes become U+FFFD; control characters, DEL and U+2028/U+2029
// (valid JSON, but some line-oriented readers split on them) are escaped.
func appendString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most text is plain ASCII: pass it eight bytes at a time.
		if i+8 <= len(s) && plainWord(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		// At most utf8.UTFMax bytes: converting them to a string for the
		// decoder does not allocate.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, "89"[r-'\u2028'])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load8 reads s[i:i+8] as a little-endian word (the compiler makes it one
// load).
func load8[S string | []byte](s S, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// plainWord reports whether all eight bytes of w are plain (see plain):
// none is a control character, '"', '\\', DEL or above ASCII.
func plainWord(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	ctl := (w - lo*0x20) &^ w // a byte below 0x20 sets its top bit
	q := w ^ (lo * '"')
	q = (q - lo) &^ q // a zero byte (a '"' in w) sets its top bit
	bs := w ^ (lo * '\\')
	bs = (bs - lo) &^ bs
	del := w ^ (lo * 0x7f)
	del = (del - lo) &^ del
	return (w|ctl|q|bs|del)&hi == 0
}

// plain tells the bytes appendString copies as they are: ASCII but for
// control characters, DEL, '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != 0x7f
	}
	return t
}()

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, `\"`...)
	case '\\':
		return append(dst, `\\`...)
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	}
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
}
