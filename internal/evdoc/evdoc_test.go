package evdoc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/blueox/ox"
)

func TestBuildPutsTimestampAndDurationFirst(t *testing.T) {
	data, err := ox.AppendValue(nil, map[string]any{"type": "request", "id": "a1", "start": 1795527978.25, "end": 1795527978.5,
		"body": map[string]any{"status": int64(200)}})
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	d, err := b.Build(data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-24T13:46:18.500000Z","duration":0.25,"body":{"status":200},"end":1795527978.5,"id":"a1","start":1795527978.25,"type":"request"}`
	if string(d.JSON) != want {
		t.Fatalf("document\n got %s\nwant %s", d.JSON, want)
	}
	if !json.Valid(d.JSON) || string(d.Type) != "request" {
		t.Fatalf("type %q", d.Type)
	}
	if !d.End.Equal(time.Date(2026, 11, 24, 13, 46, 18, 500000000, time.UTC)) || d.Start.IsZero() {
		t.Fatalf("start %v end %v", d.Start, d.End)
	}
}

func TestBuildRefusesWhatIsNotAnEvent(t *testing.T) {
	var b Builder
	for _, data := range [][]byte{nil, {0x93, 1, 2, 3}, {0x81, 0xa1}} {
		if _, err := b.Build(data); err == nil {
			t.Errorf("Build(% x): no error", data)
		}
	}
}
