package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk"
	"github.com/blueox/ox/internal/evjson"
)

// timestampLayout is ISO 8601 in UTC with a Z and microseconds, the precision
// BlueOx's float times carry.
const timestampLayout = "2006-01-02T15:04:05.000000Z"

// docOptions is how a document says what JSON cannot: NaN and infinities,
// which JSON cannot carry, become null; exponents are written as
// encoding/json writes them; extensions other than timestamps become the
// base64 of their data.
var docOptions = evjson.Options{NonFiniteNull: true, ShortExponent: true, ExtData: true}

// converter turns events into bulk documents (PROTOCOL.md §11).
type converter struct {
	indexName string           // fixed index, or ""
	indexBase string           // otherwise <indexBase>-YYYY.MM.DD of the end time
	now       func() time.Time // index day for an event without an end time

	tr   evjson.Transcoder
	buf  []byte          // the last document; esbulk's Add copies it
	vals []byte          // the JSON values of lead
	lead []evjson.Member // @timestamp and duration

	day   [3]int // year, month, day of index
	index string // the last daily index name
}

// event is what the converter made of one data frame.
type event struct {
	typ string
	doc esbulk.Doc
}

// convert builds the document for one data frame (valid until the next call):
// "@timestamp" = the end time and "duration" = end - start in seconds, then the
// event's own keys, sorted (type kept as a field). Its _id is a hash of the
// frame's bytes, so shipping the same event twice overwrites instead of
// duplicating. The body is always valid JSON: binary values become text when
// they are UTF-8 and base64 otherwise, NaN and infinities become null, invalid
// UTF-8 in strings becomes U+FFFD.
func (c *converter) convert(data []byte) (event, error) {
	if err := c.tr.Load(data); err != nil {
		return event{}, err
	}
	if !c.tr.IsMap() {
		return event{}, fmt.Errorf("event is not a map")
	}
	var ev event
	ev.typ = text(c.tr.Field("type"))
	start, hasStart := number(c.tr.Field("start"))
	end, hasEnd := number(c.tr.Field("end"))
	var endTime time.Time
	if hasEnd {
		// A time ISO 8601 (and an index name) cannot carry counts as none.
		if endTime = ox.FloatTime(end); endTime.IsZero() || endTime.Year() < 1 || endTime.Year() > 9999 {
			hasEnd = false
		}
	}

	// Our @timestamp and duration come first and win over an event's own
	// keys of these names.
	vals, lead := c.vals[:0], c.lead[:0]
	var ends [2]int
	if hasEnd {
		vals = append(vals, '"')
		vals = appendTimestamp(vals, endTime)
		vals = append(vals, '"')
		ends[len(lead)] = len(vals)
		lead = append(lead, evjson.Member{Key: "@timestamp"})
	}
	if hasStart && hasEnd {
		vals = docOptions.AppendFloat(vals, math.Round((end-start)*1e6)/1e6)
		ends[len(lead)] = len(vals)
		lead = append(lead, evjson.Member{Key: "duration"})
	}
	from := 0
	for i := range lead {
		lead[i].Value = vals[from:ends[i]]
		from = ends[i]
	}
	c.buf = c.tr.Append(c.buf[:0], docOptions, lead...)
	c.vals, c.lead = vals, lead

	ev.doc.Body = c.buf
	ev.doc.ID = eventID(data)
	switch {
	case c.indexName != "":
		ev.doc.Index = c.indexName
	case hasEnd:
		ev.doc.Index = c.dailyIndex(endTime)
	default:
		ev.doc.Index = c.dailyIndex(c.now())
	}
	return ev, nil
}

// appendTimestamp appends t, in UTC and with a year from 1 to 9999, as
// t.AppendFormat(dst, timestampLayout) would, without reading the layout for
// every event.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	var b [len(timestampLayout)]byte
	for _, f := range [...]struct{ v, at, width int }{
		{y, 0, 4}, {int(mo), 5, 2}, {d, 8, 2}, {h, 11, 2}, {mi, 14, 2}, {s, 17, 2}, {t.Nanosecond() / 1000, 20, 6},
	} {
		for i, v := f.at+f.width-1, f.v; i >= f.at; i, v = i-1, v/10 {
			b[i] = byte('0' + v%10)
		}
	}
	b[4], b[7], b[10], b[13], b[16], b[19], b[26] = '-', '-', 'T', ':', ':', '.', 'Z'
	return append(dst, b[:]...)
}

// dailyIndex is <indexBase>-YYYY.MM.DD of t's day in UTC. The last one is
// kept: consecutive events mostly share their day.
func (c *converter) dailyIndex(t time.Time) string {
	y, m, d := t.UTC().Date()
	if day := [3]int{y, int(m), d}; c.index == "" || day != c.day {
		c.day, c.index = day, c.indexBase+"-"+t.UTC().Format("2006.01.02")
	}
	return c.index
}

// eventID is the document _id: the first 128 bits of the SHA-256 of the event's
// bytes, in hex.
func eventID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// number reads a field's MessagePack value as a finite number.
func number(raw []byte) (float64, bool) {
	f, ok := evjson.Number(raw)
	return f, ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// text reads a field's MessagePack value as a str or bin.
func text(raw []byte) string {
	b, _ := evjson.Text(raw)
	return string(b)
}
