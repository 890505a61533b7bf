package main

import (
	"context"
	"os"
	"os/exec"
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

// TestDevNullStdinProcess runs the built oxstash as cron or systemd would,
// stdin /dev/null and no arguments: it exits 0 at once instead of going live.
func TestDevNullStdinProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oxstash")
	}
	bin := buildCommand(t, "oxstash")
	es := newFakeBulk(t)
	cmd := exec.Command(bin, "-e", es.srv.URL, "-d", filepath.Join(t.TempDir(), "dead"))
	cmd.Stdin = nil // exec gives the child /dev/null
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("oxstash < /dev/null still running after 20 s:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "1 input, 0 events read") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}
