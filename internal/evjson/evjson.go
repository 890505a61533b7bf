// Package evjson writes values decoded by ox.Decode as JSON that is valid whatever
// the event holds, for the tools that print events (oxview, oxctl).
//
// The mapping, for what JSON cannot say directly:
//   - map keys are written sorted, so the same event always prints the same way;
//   - a string with bytes that are not UTF-8 keeps its valid parts, each invalid
//     byte becomes U+FFFD;
//   - bin data that is valid UTF-8 is written as a string (old clients sent text as
//     bin), any other bin data as a standard base64 string;
//   - NaN, +Inf and -Inf, which JSON has no number for, are the strings "NaN",
//     "Infinity" and "-Infinity";
//   - a float keeps a fraction part (1.0, not 1), so floats stay floats;
//   - a MessagePack timestamp is an RFC 3339 string, another extension the object
//     {"ext": <type>, "data": <base64>}.
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

// Append appends v as compact JSON to dst.
func Append(dst []byte, v any) []byte {
	return appendValue(dst, v, "", 0)
}

// AppendIndent appends v as JSON to dst, each nested element on its own line
// indented by indent per level (like json.MarshalIndent with an empty prefix). An
// empty indent gives compact output.
func AppendIndent(dst []byte, v any, indent string) []byte {
	return appendValue(dst, v, indent, 0)
}

// appendValue writes v at nesting level; an empty indent means compact output.
func appendValue(dst []byte, v any, indent string, level int) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, v)
	case string:
		return AppendString(dst, v)
	case []byte:
		if utf8.Valid(v) {
			return appendStringBytes(dst, v)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"')
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case float64:
		return AppendFloat(dst, v)
	case float32:
		return AppendFloat(dst, float64(v))
	case time.Time:
		return AppendString(dst, v.UTC().Format(time.RFC3339Nano))
	case ox.Ext:
		return appendValue(dst, map[string]any{"ext": int64(v.Type), "data": base64.StdEncoding.EncodeToString(v.Data)}, indent, level)
	case []any:
		if len(v) == 0 {
			return append(dst, "[]"...)
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, indent, level+1)
			dst = appendValue(dst, e, indent, level+1)
		}
		dst = newline(dst, indent, level)
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
			dst = newline(dst, indent, level+1)
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			if indent != "" {
				dst = append(dst, ' ')
			}
			dst = appendValue(dst, v[k], indent, level+1)
		}
		dst = newline(dst, indent, level)
		return append(dst, '}')
	}
	return AppendString(dst, fmt.Sprint(v))
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

// AppendFloat appends f as a JSON number with a fraction part, or as one of the
// strings "NaN", "Infinity", "-Infinity".
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
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
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
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

func appendStringBytes(dst []byte, b []byte) []byte {
	return AppendString(dst, string(b))
}

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
