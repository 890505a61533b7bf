package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// bombGzip is a small gzip stream holding one map that announces
// 2^32-1 entries and then 20 MiB of them, past the default bound (issue 11, finding 7).
func bombGzip(t *testing.T) []byte {
	t.Helper()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	zw.Write(bytes.Repeat([]byte{0x01}, 20<<20))
	zw.Close()
	return gz.Bytes()
}

func TestAnEventPastTheBoundIsRefusedWithItsOffset(t *testing.T) {
	start := time.Now()
	_, _, err := oxview(t, bytes.NewReader(bombGzip(t)))
	if err == nil || !strings.Contains(err.Error(), "byte 0") || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want an event too large at byte 0", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %v", d)
	}
}

// slowReader gives a few bytes per read, for ever, until the test ends.
type slowReader struct{ b []byte }

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 512)], s.b)
	s.b = s.b[n:]
	return n, nil
}

func TestSIGTERMStopsReadingAHugeEvent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := append([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0x01}, 15<<20)...)
	done := make(chan error, 1)
	go func() {
		var out, errOut bytes.Buffer
		done <- run(ctx, nil, &slowReader{in}, &out, &errOut)
	}()
	cancel() // as the first SIGTERM does (internal/cli)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("oxview did not stop reading after its context ended")
	}
}
