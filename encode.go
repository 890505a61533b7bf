package ox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/shamaton/msgpack/v2"
)

// AppendValue appends the MessagePack encoding of v to dst. Text is written as str,
// []byte as bin, every Go integer type in its smallest encoding, time.Duration as
// float seconds (like the original's timers), time.Time as an RFC 3339 string, errors
// and fmt.Stringers as their text. Maps with string keys are written with their keys
// sorted, so the same data always encodes to the same bytes. Other types (structs,
// typed maps and slices) go through github.com/shamaton/msgpack.
func AppendValue(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("ox: value nested deeper than %d", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return append(dst, 0xc0), nil
	case bool:
		if v {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case string:
		return appendString(dst, v), nil
	case []byte:
		return appendBin(dst, v), nil
	case int:
		return appendInt(dst, int64(v)), nil
	case int8:
		return appendInt(dst, int64(v)), nil
	case int16:
		return appendInt(dst, int64(v)), nil
	case int32:
		return appendInt(dst, int64(v)), nil
	case int64:
		return appendInt(dst, v), nil
	case uint:
		return appendUint(dst, uint64(v)), nil
	case uint8:
		return appendUint(dst, uint64(v)), nil
	case uint16:
		return appendUint(dst, uint64(v)), nil
	case uint32:
		return appendUint(dst, uint64(v)), nil
	case uint64:
		return appendUint(dst, v), nil
	case float64:
		return appendFloat(dst, v), nil
	case float32:
		dst = append(dst, 0xca)
		return binary.BigEndian.AppendUint32(dst, math.Float32bits(v)), nil
	case time.Duration:
		return appendFloat(dst, v.Seconds()), nil
	case time.Time:
		return appendString(dst, v.Format(time.RFC3339Nano)), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return appendInt(dst, i), nil
		}
		if f, err := v.Float64(); err == nil {
			return appendFloat(dst, f), nil
		}
		return appendString(dst, string(v)), nil
	case map[string]any:
		return appendMap(dst, v, depth)
	case map[string]string:
		dst = appendMapHeader(dst, len(v))
		var buf [16]string
		for _, k := range sortedKeys(buf[:0], v) {
			dst = appendString(dst, k)
			dst = appendString(dst, v[k])
		}
		return dst, nil
	case []any:
		dst = appendArrayHeader(dst, len(v))
		var err error
		for _, e := range v {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		dst = appendArrayHeader(dst, len(v))
		for _, e := range v {
			dst = appendString(dst, e)
		}
		return dst, nil
	case Ext:
		return appendExt(dst, v), nil
	case error:
		return appendString(dst, v.Error()), nil
	case fmt.Stringer:
		return appendString(dst, v.String()), nil
	}
	return appendReflect(dst, v, depth)
}

// appendReflect handles the kinds the fast path does not: pointers, named basic
// types, typed slices and maps, and structs (via msgpack).
func appendReflect(dst []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, 0xc0), nil
		}
		return appendValue(dst, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return appendValue(dst, rv.Bool(), depth)
	case reflect.String:
		return appendString(dst, rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(dst, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendUint(dst, rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(dst, rv.Float()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(dst, 0xc0), nil
		}
		dst = appendArrayHeader(dst, rv.Len())
		var err error
		for i := 0; i < rv.Len(); i++ {
			if dst, err = appendValue(dst, rv.Index(i).Interface(), depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case reflect.Map:
		if rv.IsNil() {
			return append(dst, 0xc0), nil
		}
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				m[it.Key().String()] = it.Value().Interface()
			}
			return appendMap(dst, m, depth)
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return dst, fmt.Errorf("ox: cannot encode a %T", v)
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("ox: encode %T: %w", v, err)
	}
	return append(dst, b...), nil
}

func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	dst = appendMapHeader(dst, len(m))
	var buf [16]string
	var err error
	for _, k := range sortedKeys(buf[:0], m) {
		dst = appendString(dst, k)
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// sortedKeys appends m's keys to keys and sorts them. Callers pass a slice of a
// stack array, so small maps, the common case for event bodies, sort without
// allocating.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xda)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0xdb)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, s...)
}

func appendBin(dst []byte, b []byte) []byte {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xc5)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0xc6)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, b...)
}

func appendExt(dst []byte, e Ext) []byte {
	n := len(e.Data)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc7, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xc8)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0xc9)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, byte(e.Type))
	return append(dst, e.Data...)
}

func appendInt(dst []byte, i int64) []byte {
	if i >= 0 {
		return appendUint(dst, uint64(i))
	}
	switch {
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		dst = append(dst, 0xd1)
		return binary.BigEndian.AppendUint16(dst, uint16(i))
	case i >= math.MinInt32:
		dst = append(dst, 0xd2)
		return binary.BigEndian.AppendUint32(dst, uint32(i))
	}
	dst = append(dst, 0xd3)
	return binary.BigEndian.AppendUint64(dst, uint64(i))
}

func appendUint(dst []byte, u uint64) []byte {
	switch {
	case u <= 0x7f:
		return append(dst, byte(u))
	case u <= math.MaxUint8:
		return append(dst, 0xcc, byte(u))
	case u <= math.MaxUint16:
		dst = append(dst, 0xcd)
		return binary.BigEndian.AppendUint16(dst, uint16(u))
	case u <= math.MaxUint32:
		dst = append(dst, 0xce)
		return binary.BigEndian.AppendUint32(dst, uint32(u))
	}
	dst = append(dst, 0xcf)
	return binary.BigEndian.AppendUint64(dst, u)
}

func appendFloat(dst []byte, f float64) []byte {
	dst = append(dst, 0xcb)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xde)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	dst = append(dst, 0xdf)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xdc)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	dst = append(dst, 0xdd)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}
