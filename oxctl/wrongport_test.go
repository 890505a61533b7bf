package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
)

func TestAnotherPortOfARealOxdIsNamedOnce(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	tests := []struct{ name, addr, what string }{
		{"collection port", ports.Collect, "a collector's collection port (ZeroMQ PULL)"},
		{"stream port", ports.Stream, "a collector's live stream port (ZeroMQ PUB)"},
		{"link port", ports.Link, "a collector's forwarding link port, --link (ZeroMQ ROUTER)"},
	}
	for _, tc := range tests {
		for _, cmd := range [][]string{{"status"}, {"forward"}} {
			t.Run(tc.name+" "+cmd[0], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var stdout, stderr bytes.Buffer
				err := run(ctx, append([]string{"-H", tc.addr}, cmd...), nil, &stdout, &stderr)
				if code := program.ExitCode(err, &stderr); code != 1 {
					t.Errorf("exit status %d, want 1", code)
				}
				want := "oxctl: " + tc.addr + " is " + tc.what + "; this needs a collector's control port (3513 by default)\n"
				if stderr.String() != want {
					t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
				}
			})
		}
	}
}
