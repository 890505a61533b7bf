package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileArgumentsAreReadInOrder: oxview FILE... reads its files as oxstash
// does ("-" is stdin); a missing or damaged file is reported and the others
// are still printed, exit status 1.
func TestFileArgumentsAreReadInOrder(t *testing.T) {
	stream := wireStream(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "request.log")
	if err := os.WriteFile(good, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.log")
	if err := os.WriteFile(damaged, stream[:len(stream)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	want, _, err := oxview(t, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(want, "\n")

	t.Run("files and stdin in order", func(t *testing.T) {
		got, _, err := oxview(t, bytes.NewReader(stream), good, "-", good)
		if err != nil {
			t.Fatal(err)
		}
		if got != want+want+want {
			t.Fatalf("got %d lines, want the %d events three times", strings.Count(got, "\n"), n)
		}
	})
	t.Run("a missing and a damaged file do not stop the others", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.log")
		got, errOut, err := oxview(t, strings.NewReader(""), missing, damaged, good)
		if code := program.ExitCode(err, io.Discard); code != 1 {
			t.Fatalf("exit %d (%v), want 1", code, err)
		}
		if !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 2*n-1 {
			t.Fatalf("got %d lines, want %d: all but the damaged last event", strings.Count(got, "\n"), 2*n-1)
		}
		for _, w := range []string{"missing.log: no such file", "damaged.log:", "2 of 3 files"} {
			if !strings.Contains(errOut+err.Error(), w) {
				t.Errorf("stderr %q and error %v lack %q", errOut, err, w)
			}
		}
	})
}
