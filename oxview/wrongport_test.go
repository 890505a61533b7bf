package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
)

// TestAnotherPortOfARealOxdEndsTheLiveView: a wrong port never becomes right,
// so oxview says which port it reached and which it needs, once, and exits 1
// instead of retrying.
func TestAnotherPortOfARealOxdEndsTheLiveView(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	tests := []struct{ name, addr, what string }{
		{"collection port", ports.Collect, "a collector's collection port (ZeroMQ PULL)"},
		{"stream port", ports.Stream, "a collector's live stream port (ZeroMQ PUB)"},
		{"link port", ports.Link, "a collector's forwarding link port, --link (ZeroMQ ROUTER)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"-H", tc.addr}, nil, &stdout, &stderr)
			if ctx.Err() != nil {
				t.Fatal("oxview kept retrying")
			}
			if code := program.ExitCode(err, &stderr); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			want := "oxview: " + tc.addr + " is " + tc.what + "; this needs a collector's control port (3513 by default)\n"
			if stderr.String() != want {
				t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
			}
		})
	}
}
