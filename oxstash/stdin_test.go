package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevNullStdinIsEmptyInput: cron and systemd give programs /dev/null as
// stdin; oxstash reads it (nothing), prints its summary and exits 0, rather
// than taking the character device for a terminal and going live.
func TestDevNullStdinIsEmptyInput(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	es := newFakeBulk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, stderr, err := runOxstash(t, ctx, devNull, "-e", es.srv.URL, "-d", filepath.Join(t.TempDir(), "dead"))
	if ctx.Err() != nil {
		t.Fatalf("oxstash went live on /dev/null: %s", stderr)
	}
	if err != nil {
		t.Fatalf("%v; stderr %s", err, stderr)
	}
	if !strings.Contains(stderr, "0 events read") {
		t.Fatalf("stderr %q, want the summary of an empty input", stderr)
	}
}
