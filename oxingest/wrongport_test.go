package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
)

// TestAnotherPortOfARealOxdStopsOxingest runs oxingest as a process against
// each port of a real oxd that is not its collection port: it says so once
// and exits 1 at once, rather than retrying until --drain-timeout.
func TestAnotherPortOfARealOxdStopsOxingest(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	tests := []struct{ name, addr, what string }{
		{"control port", ports.Control, "a collector's control port (ZeroMQ REP)"},
		{"stream port", ports.Stream, "a collector's live stream port (ZeroMQ PUB)"},
		{"link port", ports.Link, "a collector's forwarding link port, --link (ZeroMQ ROUTER)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-H", tc.addr, "--drain-timeout", "60s", "wrong")
			cmd.Env = append(os.Environ(), "OXINGEST_TEST_MAIN=1")
			cmd.Stdin = strings.NewReader("one\ntwo\n")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			began := time.Now()
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; stderr %q", err, stderr.String())
			}
			if d := time.Since(began); d > 15*time.Second {
				t.Errorf("took %v: it should stop at the first handshake", d)
			}
			want := "oxingest: " + tc.addr + " is " + tc.what + "; this needs a collector's collection port (3514 by default)\n"
			if stderr.String() != want {
				t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
			}
		})
	}
}
