package main

import (
	"time"

	"github.com/blueox/ox/esbulk"
	"github.com/blueox/ox/internal/evdoc"
)

// timestampLayout is ISO 8601 in UTC with a Z and microseconds.
const timestampLayout = evdoc.TimestampLayout

// converter turns events into bulk documents (PROTOCOL.md §11).
type converter struct {
	indexName string           // fixed index, or ""
	indexBase string           // otherwise <indexBase>-YYYY.MM.DD of the end time
	now       func() time.Time // index day for an event without an end time

	b evdoc.Builder // the document, shared with oxstore export

	day   [3]int // year, month, day of index
	index string // the last daily index name
}

// event is what the converter made of one data frame.
type event struct {
	typ string
	doc esbulk.Doc
}

// convert builds the document for one data frame (valid until the next call),
// as evdoc.Builder does: "@timestamp" = the end time and "duration" = end -
// start in seconds, then the event's own keys, sorted (type kept as a field).
// Its _id is a hash of the frame's bytes, so shipping the same event twice
// overwrites instead of duplicating.
func (c *converter) convert(data []byte) (event, error) {
	d, err := c.b.Build(data)
	if err != nil {
		return event{}, err
	}
	ev := event{typ: string(d.Type)}
	ev.doc.Body = d.JSON
	ev.doc.ID = eventID(data)
	switch {
	case c.indexName != "":
		ev.doc.Index = c.indexName
	case !d.End.IsZero():
		ev.doc.Index = c.dailyIndex(d.End)
	default:
		ev.doc.Index = c.dailyIndex(c.now())
	}
	return ev, nil
}

// appendTimestamp appends t as t.AppendFormat(dst, timestampLayout) would.
func appendTimestamp(dst []byte, t time.Time) []byte { return evdoc.AppendTimestamp(dst, t) }

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
func eventID(data []byte) string { return evdoc.ID(data) }
