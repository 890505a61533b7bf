// Package evdoc builds the JSON document of one BlueOx event that ox ships
// and archives: the event's own keys (id, type, host, pid, start, end, body
// nested, and any others), sorted, after "@timestamp" (the end time, ISO 8601
// UTC) and "duration" (end - start, in seconds). oxstash sends it to
// Elasticsearch; oxstore export writes it as JSON lines for query engines.
// Keeping one builder keeps both the same.
package evdoc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
)

// TimestampLayout is ISO 8601 in UTC with a Z and microseconds, the precision
// BlueOx's float times carry.
const TimestampLayout = "2006-01-02T15:04:05.000000Z"

// Options is how a document says what JSON cannot: NaN and infinities,
// which JSON cannot carry, become null; exponents are written as
// encoding/json writes them; extensions other than timestamps become the
// base64 of their data.
var Options = evjson.Options{NonFiniteNull: true, ShortExponent: true, ExtData: true}

// Doc is the document of one event. Its slices point into the Builder and the
// event's bytes, valid until the next Build.
type Doc struct {
	// JSON is the document, one compact JSON object.
	JSON []byte
	// Type is the event's "type" field (str or bin), or nil.
	Type []byte
	// Start and End are the event's times; zero when missing or not a time
	// ISO 8601 can carry (End) or not a finite number (Start).
	Start, End time.Time
}

// Builder builds documents. The zero value is ready to use; reusing one
// reuses its memory, so building allocates nothing in the steady state. A
// Builder is not safe for concurrent use.
type Builder struct {
	tr   evjson.Transcoder
	buf  []byte
	vals []byte          // the JSON values of lead
	lead []evjson.Member // @timestamp and duration
}

// Build builds the document for one event's MessagePack bytes (a data frame),
// valid until the next call. The event's own @timestamp and duration give way
// to ours. The document is always valid JSON: binary values become text when
// they are UTF-8 and base64 otherwise, NaN and infinities become null, invalid
// UTF-8 in strings becomes U+FFFD. An event that is not a MessagePack map is
// an error.
func (b *Builder) Build(data []byte) (Doc, error) {
	d, err := b.Prepare(data)
	if err != nil {
		return Doc{}, err
	}
	b.buf = b.Append(b.buf[:0])
	d.JSON = b.buf
	return d, nil
}

// Prepare reads one event as Build does, and returns its type and times but
// not its JSON, which Append or AppendLayout then write where the caller
// wants them (a batch of rows), without a copy. Doc.JSON is nil.
func (b *Builder) Prepare(data []byte) (Doc, error) {
	if err := b.tr.Load(data); err != nil {
		return Doc{}, err
	}
	return b.prepare()
}

// PrepareNext is Prepare for the event at the start of data, which more bytes
// (further events) may follow; it returns the event's length too. When data
// ends inside the event, the error wraps ox.ErrTruncated. Reading a stream
// this way walks each event once, where framing it first (ox.Reader) and
// then preparing it walks it twice.
func (b *Builder) PrepareNext(data []byte) (Doc, int, error) {
	n, err := b.tr.LoadNext(data)
	if err != nil {
		return Doc{}, 0, err
	}
	d, err := b.prepare()
	return d, n, err
}

// prepare reads the event loaded into b.tr.
func (b *Builder) prepare() (Doc, error) {
	c := &b.tr
	if !c.IsMap() {
		return Doc{}, fmt.Errorf("event is not a map")
	}
	var d Doc
	var f [3][]byte
	c.Fields(fieldKeys[:], f[:])
	d.Type, _ = evjson.Text(f[0])
	start, hasStart := number(f[1])
	end, hasEnd := number(f[2])
	if hasStart {
		d.Start = ox.FloatTime(start)
	}
	if hasEnd {
		// A time ISO 8601 cannot carry counts as none.
		if d.End = ox.FloatTime(end); d.End.IsZero() || !inISORange(d.End) {
			hasEnd, d.End = false, time.Time{}
		}
	}

	// Our @timestamp and duration come first and win over an event's own
	// keys of these names.
	vals, lead := b.vals[:0], b.lead[:0]
	var ends [2]int
	if hasEnd {
		vals = append(vals, '"')
		vals = AppendTimestamp(vals, d.End)
		vals = append(vals, '"')
		ends[len(lead)] = len(vals)
		lead = append(lead, evjson.Member{Key: "@timestamp"})
	}
	if hasStart && hasEnd {
		vals = appendMicros(vals, math.Round((end-start)*1e6))
		ends[len(lead)] = len(vals)
		lead = append(lead, evjson.Member{Key: "duration"})
	}
	from := 0
	for i := range lead {
		lead[i].Value = vals[from:ends[i]]
		from = ends[i]
	}
	b.vals, b.lead = vals, lead
	return d, nil
}

// fieldKeys are the fields Prepare reads.
var fieldKeys = [...]string{"type", "start", "end"}

// Append appends the document of the event Prepare read to dst.
func (b *Builder) Append(dst []byte) []byte {
	return b.tr.Append(dst, Options, b.lead...)
}

// AppendLayout appends the document of the event Prepare read to dst, and
// returns with it the document's layout (see evjson.Transcoder.AppendLayout),
// valid until the next call: documents of equal layouts have the same keys
// and JSON kinds.
func (b *Builder) AppendLayout(dst []byte) (json, layout []byte) {
	return b.tr.AppendLayout(dst, Options, b.lead...)
}

// AppendTimestamp appends t, in UTC and with a year from 1 to 9999, as
// t.AppendFormat(dst, TimestampLayout) would, computing the date from the
// Unix time directly (a document's hot path).
func AppendTimestamp(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	rem := int(sec - days*86400)
	y, mo, d := civil(days)
	h, mi, s := rem/3600, rem/60%60, rem%60
	var b [len(TimestampLayout)]byte
	for _, f := range [...]struct{ v, at, width int }{
		{y, 0, 4}, {mo, 5, 2}, {d, 8, 2}, {h, 11, 2}, {mi, 14, 2}, {s, 17, 2}, {t.Nanosecond() / 1000, 20, 6},
	} {
		for i, v := f.at+f.width-1, f.v; i >= f.at; i, v = i-1, v/10 {
			b[i] = byte('0' + v%10)
		}
	}
	b[4], b[7], b[10], b[13], b[16], b[19], b[26] = '-', '-', 'T', ':', ':', '.', 'Z'
	return append(dst, b[:]...)
}

// civil returns the proleptic Gregorian date of days since 1970-01-01
// (H. Hinnant's civil_from_days).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// The Unix times of 0001-01-01 and 10000-01-01 UTC: ISO 8601's four-digit
// years lie between.
const (
	minISOUnix = -62135596800
	maxISOUnix = 253402300800
)

// inISORange reports whether t's year is from 1 to 9999 (in UTC), without
// computing the date.
func inISORange(t time.Time) bool {
	u := t.Unix()
	return u >= minISOUnix && u < maxISOUnix
}

// appendMicros appends us/1e6, where us is a whole number of microseconds,
// as Options.AppendFloat(dst, us/1e6) would. Below 2^32 seconds the
// doubles near us/1e6 lie less than a microsecond apart, so the shortest
// decimal that reads back as it is us itself with its trailing zeros
// dropped: written from the integer, without the general shortest-float
// search.
func appendMicros(dst []byte, us float64) []byte {
	if us == 0 || math.IsNaN(us) || math.Abs(us) >= 1<<32*1e6 {
		return Options.AppendFloat(dst, us/1e6) // also keeps -0 as -0.0
	}
	n := int64(us)
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	dst = strconv.AppendInt(dst, n/1e6, 10)
	frac := n % 1e6
	if frac == 0 {
		return append(dst, ".0"...)
	}
	var b [7]byte
	b[0] = '.'
	for i := 6; i >= 1; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 7
	for b[end-1] == '0' {
		end--
	}
	return append(dst, b[:end]...)
}

// ID is a stable name for an event: the first 128 bits of the SHA-256 of its
// bytes, in hex, so shipping the same event twice overwrites instead of
// duplicating.
func ID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// number reads a field's MessagePack value as a finite number.
func number(raw []byte) (float64, bool) {
	f, ok := evjson.Number(raw)
	return f, ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}
