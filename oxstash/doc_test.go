package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

func frame(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := ox.AppendValue(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var fixedNow = func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

func convertOK(t *testing.T, c converter, data []byte) (event, map[string]any) {
	t.Helper()
	ev, err := c.convert(data)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	if !json.Valid(ev.doc.Body) || !utf8.Valid(ev.doc.Body) {
		t.Fatalf("document is not valid UTF-8 JSON: %q", ev.doc.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(ev.doc.Body, &m); err != nil {
		t.Fatal(err)
	}
	return ev, m
}

func TestDocumentFromTheOriginalsEvents(t *testing.T) {
	c := converter{indexBase: "blueox", now: fixedNow}
	for _, wf := range testenv.WireFrames(t) {
		ev, doc := convertOK(t, c, wf.Data)
		orig := wf.EventJSON
		start, end := orig["start"].(float64), orig["end"].(float64)
		endTime := ox.FloatTime(end)
		if doc["@timestamp"] != endTime.Format("2006-01-02T15:04:05.000000Z") || !strings.HasSuffix(doc["@timestamp"].(string), "Z") {
			t.Errorf("%s: @timestamp %v for end %v", orig["type"], doc["@timestamp"], end)
		}
		if d := doc["duration"].(float64); math.Abs(d-(end-start)) > 1e-6 {
			t.Errorf("%s: duration %v, end-start %v", orig["type"], d, end-start)
		}
		if ev.doc.Index != "blueox-"+endTime.Format("2006.01.02") {
			t.Errorf("index %q", ev.doc.Index)
		}
		for _, k := range []string{"id", "type", "host", "pid", "start", "end", "body"} {
			if !jsonEqual(doc[k], orig[k]) {
				t.Errorf("%s: field %s = %v, the original decoded %v", orig["type"], k, doc[k], orig[k])
			}
		}
		if ev.typ != orig["type"] {
			t.Errorf("type %q", ev.typ)
		}
		if len(ev.doc.ID) != 32 || ev.doc.ID != eventID(wf.Data) {
			t.Errorf("id %q", ev.doc.ID)
		}
	}
}

// jsonEqual compares two decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var p, q any
	json.Unmarshal(x, &p)
	json.Unmarshal(y, &q)
	x, _ = json.Marshal(p)
	y, _ = json.Marshal(q)
	return string(x) == string(y)
}

func TestDocumentShape(t *testing.T) {
	end := 1795527978.5929906
	base := func(body map[string]any) map[string]any {
		return map[string]any{"id": "abc", "type": "request", "host": "vm", "pid": 7, "start": end - 0.25, "end": end, "body": body}
	}
	tests := []struct {
		name  string
		event map[string]any
		conv  converter
		check func(t *testing.T, ev event, doc map[string]any, raw string)
	}{
		{"daily index from the end time in UTC", base(nil), converter{indexBase: "logs", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if ev.doc.Index != "logs-2026.11.24" || doc["@timestamp"] != "2026-11-24T13:46:18.592991Z" || doc["duration"] != 0.25 {
					t.Fatalf("index %q, doc %v", ev.doc.Index, doc)
				}
			}},
		{"fixed index", base(nil), converter{indexName: "fixed", indexBase: "logs", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if ev.doc.Index != "fixed" {
					t.Fatalf("index %q", ev.doc.Index)
				}
			}},
		{"no end time: no @timestamp, index of today", map[string]any{"type": "x", "start": 1.0}, converter{indexBase: "blueox", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if ev.doc.Index != "blueox-2030.01.02" || doc["@timestamp"] != nil || doc["duration"] != nil {
					t.Fatalf("index %q, doc %v", ev.doc.Index, doc)
				}
			}},
		{"binary text stays text, other binary becomes base64", base(map[string]any{"text": []byte("héllo"), "raw": []byte{0xff, 0x00, 0xfe}}), converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				body := doc["body"].(map[string]any)
				if body["text"] != "héllo" || body["raw"] != "/wD+" {
					t.Fatalf("body %v", body)
				}
			}},
		{"NaN and infinities become null", base(map[string]any{"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1)}), converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if !strings.Contains(raw, `"inf":null`) || !strings.Contains(raw, `"nan":null`) || !strings.Contains(raw, `"ninf":null`) {
					t.Fatalf("doc %s", raw)
				}
			}},
		{"a NaN end time gives no @timestamp", map[string]any{"type": "x", "start": 1.0, "end": math.NaN()}, converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if doc["@timestamp"] != nil || doc["duration"] != nil || doc["end"] != nil || ev.doc.Index != "b-2030.01.02" {
					t.Fatalf("doc %s index %s", raw, ev.doc.Index)
				}
			}},
		{"invalid UTF-8 and control characters", base(map[string]any{"s": "a\xffb\x00\n\u2028\"\\", "k\xfe": 1}), converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				body := doc["body"].(map[string]any)
				if body["s"] != "a\ufffdb\x00\n\u2028\"\\" || body["k\ufffd"] != 1.0 {
					t.Fatalf("body %q", body)
				}
			}},
		{"floats keep a decimal point, integers do not", base(map[string]any{"f": 2.0, "i": int64(2), "big": uint64(math.MaxUint64), "tiny": 1e-9, "huge": 1e300}), converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				for _, want := range []string{`"f":2.0`, `"i":2`, `"big":18446744073709551615`, `"tiny":1e-9`, `"huge":1e+300`} {
					if !strings.Contains(raw, want) {
						t.Fatalf("doc %s lacks %s", raw, want)
					}
				}
			}},
		{"an event's own @timestamp and duration give way", map[string]any{"type": "x", "start": 10.0, "end": 11.5, "duration": "mine", "@timestamp": "mine"}, converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				if doc["duration"] != 1.5 || doc["@timestamp"] != "1970-01-01T00:00:11.500000Z" || strings.Count(raw, "duration") != 1 {
					t.Fatalf("doc %s", raw)
				}
			}},
		{"timestamps and extensions", base(map[string]any{"t": time.Date(2026, 11, 24, 1, 2, 3, 4, time.UTC), "e": ox.Ext{Type: 5, Data: []byte{1, 2}}}), converter{indexBase: "b", now: fixedNow},
			func(t *testing.T, ev event, doc map[string]any, raw string) {
				body := doc["body"].(map[string]any)
				if body["t"] != "2026-11-24T01:02:03.000000004Z" || body["e"] != "AQI=" {
					t.Fatalf("body %v", body)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, doc := convertOK(t, tc.conv, frame(t, tc.event))
			tc.check(t, ev, doc, string(ev.doc.Body))
		})
	}
}

func TestDocumentIDIsAHashOfTheEventBytes(t *testing.T) {
	c := converter{indexBase: "b", now: fixedNow}
	a := frame(t, map[string]any{"type": "x", "end": 1.0})
	b := frame(t, map[string]any{"type": "x", "end": 2.0})
	ea, _ := c.convert(a)
	ea2, _ := c.convert(append([]byte(nil), a...))
	eb, _ := c.convert(b)
	if ea.doc.ID != ea2.doc.ID || ea.doc.ID == eb.doc.ID {
		t.Fatalf("ids %s %s %s", ea.doc.ID, ea2.doc.ID, eb.doc.ID)
	}
}

func TestDocumentRejectsWhatIsNotAnEvent(t *testing.T) {
	c := converter{indexBase: "b", now: fixedNow}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"an array":  {0x91, 0x01},
		"truncated": {0x81, 0xa1, 'a'},
	} {
		if _, err := c.convert(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzConvert: whatever the bytes, the document is valid UTF-8 JSON (an object)
// or the event is refused with an error.
func FuzzConvert(f *testing.F) {
	for _, wf := range testenv.WireFrames(f) {
		f.Add(wf.Data)
	}
	f.Add([]byte{0x81, 0xa3, 'e', 'n', 'd', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0})
	c := converter{indexBase: "blueox", now: fixedNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := c.convert(data)
		if err != nil {
			return
		}
		if !json.Valid(ev.doc.Body) || !utf8.Valid(ev.doc.Body) || ev.doc.Body[0] != '{' {
			t.Fatalf("bad document %q", ev.doc.Body)
		}
		if validIndex(ev.doc.Index) != nil {
			t.Fatalf("bad index %q", ev.doc.Index)
		}
	})
}

func TestAppendTimestampMatchesTheLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 1000, time.FixedZone("x", 3600)),
		time.Unix(0, 0),
	}
	for range 1000 {
		times = append(times, time.Unix(rng.Int64N(253402300799+62135596800)-62135596800, rng.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendTimestamp([]byte("x"), tm)), "x"+tm.UTC().Format(timestampLayout); got != want {
			t.Fatalf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
}
