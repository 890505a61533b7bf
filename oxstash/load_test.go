package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/blueox/ox"
)

// loadEvents writes n request-like events (about 400 bytes each, like the
// original's request events) as one log file.
func loadEvents(t testing.TB, n int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/", "/login", "/api/v1/items", "/api/v1/items/42", "/static/app.js"}
	types := []string{"request", "request.db", "request.cache", "request.log"}
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var buf []byte
	for i := range n {
		start := base.Add(time.Duration(i) * time.Millisecond)
		r := ox.Record{
			ID:   fmt.Sprintf("%032x", rng.Uint64()),
			Type: types[i%len(types)], Host: "web-" + strconv.Itoa(i%8), PID: 1000 + i%32,
			Start: start, End: start.Add(time.Duration(rng.IntN(50000)) * time.Microsecond),
			Body: map[string]any{
				"method":       "GET",
				"path":         paths[i%len(paths)],
				"user_agent":   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
				"request_time": rng.Float64() / 10,
				"response":     map[string]any{"status": 200, "size": rng.IntN(100000)},
				"tags":         []any{"a", "b"},
				"user":         map[string]any{"id": rng.IntN(1e6), "name": "user" + strconv.Itoa(i%100)},
				"query":        "select * from items where id = %s",
			},
		}
		var err error
		if buf, err = ox.AppendRecord(buf, r); err != nil {
			t.Fatal(err)
		}
	}
	return buf
}

// BenchmarkConvert measures turning one event into its document.
func BenchmarkConvert(b *testing.B) {
	data := loadEvents(b, 1000)
	rd := ox.NewReader(bytes.NewReader(data))
	var frames [][]byte
	for {
		f, err := rd.Next()
		if err != nil {
			break
		}
		frames = append(frames, bytes.Clone(f))
	}
	c := converter{indexBase: "blueox", now: time.Now}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.convert(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
}
