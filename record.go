package ox

import (
	"fmt"
	"math"
	"time"
)

// Record is one finished event as it travels on the wire and sits in log files: the
// MessagePack data frame with keys id, type, host, pid, start, end and body.
type Record struct {
	ID, Type, Host string
	PID            int
	Start, End     time.Time
	Body           map[string]any
}

// UnixFloat converts t to the float Unix seconds BlueOx uses for start and end.
func UnixFloat(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// FloatTime converts float Unix seconds to a UTC time, to the microsecond (the
// precision a float64 keeps for current dates). NaN and infinities give the zero
// time.
func FloatTime(f float64) time.Time {
	if math.IsNaN(f) || math.IsInf(f, 0) || f > 1e15 || f < -1e15 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	us := math.Round(frac * 1e6)
	return time.Unix(int64(sec), int64(us)*1000).UTC()
}

// Meta returns the meta frame fields that go with r.
func (r Record) Meta() Meta {
	return Meta{Version: MetaVersion, End: UnixFloat(r.End), Host: r.Host, Type: r.Type}
}

// AppendRecord appends r's data frame to dst, keys in the original's order. A nil
// Body is written as nil, as the original did for an event with no data.
func AppendRecord(dst []byte, r Record) ([]byte, error) {
	dst = append(dst, 0x87)
	dst = appendString(dst, "id")
	dst = appendString(dst, r.ID)
	dst = appendString(dst, "type")
	dst = appendString(dst, r.Type)
	dst = appendString(dst, "host")
	dst = appendString(dst, r.Host)
	dst = appendString(dst, "pid")
	dst = appendInt(dst, int64(r.PID))
	dst = appendString(dst, "start")
	dst = appendFloat(dst, UnixFloat(r.Start))
	dst = appendString(dst, "end")
	dst = appendFloat(dst, UnixFloat(r.End))
	dst = appendString(dst, "body")
	if r.Body == nil {
		return append(dst, 0xc0), nil
	}
	return appendMap(dst, r.Body, 0)
}

// DecodeRecord decodes a data frame. It accepts str or bin for the string fields and
// any integer or float width for the numbers, as written by every BlueOx client
// version. Missing fields stay zero; a field of the wrong type is an error.
func DecodeRecord(data []byte) (Record, error) {
	v, err := Decode(data)
	if err != nil {
		return Record{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Record{}, fmt.Errorf("ox: data frame is a %s, not a map", kindName(v))
	}
	return RecordFromMap(m)
}

// RecordFromMap builds a Record from a decoded data frame (see DecodeRecord).
func RecordFromMap(m map[string]any) (Record, error) {
	var r Record
	var err error
	str := func(key string) string {
		switch s := m[key].(type) {
		case string:
			return s
		case []byte:
			return string(s)
		case nil:
			return ""
		}
		if err == nil {
			err = fmt.Errorf("ox: data frame field %q is a %s, not a string", key, kindName(m[key]))
		}
		return ""
	}
	num := func(key string) float64 {
		switch n := m[key].(type) {
		case float64:
			return n
		case int64:
			return float64(n)
		case uint64:
			return float64(n)
		case nil:
			return 0
		}
		if err == nil {
			err = fmt.Errorf("ox: data frame field %q is a %s, not a number", key, kindName(m[key]))
		}
		return 0
	}
	r.ID = str("id")
	r.Type = str("type")
	r.Host = str("host")
	r.PID = int(num("pid"))
	if s := num("start"); s != 0 {
		r.Start = FloatTime(s)
	}
	if e := num("end"); e != 0 {
		r.End = FloatTime(e)
	}
	switch b := m["body"].(type) {
	case map[string]any:
		r.Body = b
	case nil:
	default:
		if err == nil {
			err = fmt.Errorf("ox: data frame body is a %s, not a map", kindName(b))
		}
	}
	return r, err
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "bool"
	case int64, uint64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "binary"
	case []any:
		return "array"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
