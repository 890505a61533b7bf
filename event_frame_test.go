package ox

import (
	"bytes"
	"testing"
	"time"
)

// A configuration made by newConfig carries the data frame's host and pid
// pre-encoded; the frame is still byte for byte what AppendRecord writes.
func TestEventFrameWithPrecomputedHostMatchesAppendRecord(t *testing.T) {
	cfg := newConfig(nil, nil)
	if cfg.hostPID == nil {
		t.Fatal("newConfig did not pre-encode host and pid")
	}
	start := time.Unix(1795527978, 589816800)
	end := start.Add(390 * time.Microsecond)
	body := map[string]any{"query": "select 1", "row_count": 1}
	e := &Event{typ: "request.db", start: start.UnixNano(), rawID: [16]byte{0x6b, 0x05, 0x95, 0x2a, 0xa0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xfe}}
	got, err := e.appendData(nil, cfg, end.UnixNano(), fieldsOf(body))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := AppendRecord(nil, Record{ID: e.ID(), Type: e.typ, Host: cfg.host, PID: cfg.pid, Start: start, End: end, Body: body})
	if !bytes.Equal(got, want) {
		t.Errorf("frame\n%x\nwant\n%x", got, want)
	}
}
