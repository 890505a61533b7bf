package testenv

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// WireFrame is one event from testdata/original/wire-frames.jsonl: the two ZeroMQ
// frames the original client sent, and what they decode to.
type WireFrame struct {
	Meta      []byte         // the 137-byte meta frame
	Data      []byte         // the MessagePack data frame
	MetaJSON  map[string]any // the meta frame decoded by the original
	EventJSON map[string]any // the data frame decoded by the original
}

// WireFrames loads the fixture events in the order the original client sent them.
func WireFrames(t testing.TB) []WireFrame {
	t.Helper()
	f, err := os.Open(Fixture(t, "wire-frames.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []WireFrame
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			MetaHex string         `json:"meta_hex"`
			DataHex string         `json:"data_hex"`
			Meta    map[string]any `json:"meta"`
			Event   map[string]any `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("wire-frames.jsonl: %v", err)
		}
		meta, err1 := hex.DecodeString(line.MetaHex)
		data, err2 := hex.DecodeString(line.DataHex)
		if err1 != nil || err2 != nil {
			t.Fatalf("wire-frames.jsonl: bad hex")
		}
		out = append(out, WireFrame{Meta: meta, Data: data, MetaJSON: line.Meta, EventJSON: line.Event})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
