package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
)

func TestAnotherPortOfARealOxdEndsTheLiveShipping(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	es := newFakeBulk(t)
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
			err := run(ctx, []string{"-H", tc.addr, "-e", es.srv.URL, "-q", "-d", t.TempDir() + "/dead"}, strings.NewReader(""), &stdout, &stderr)
			if ctx.Err() != nil {
				t.Fatal("oxstash kept retrying")
			}
			if code := program.ExitCode(err, &stderr); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			want := "oxstash: " + tc.addr + " is " + tc.what + "; this needs a collector's control port (3513 by default)\n"
			if !strings.HasSuffix(stderr.String(), want) || strings.Count(stderr.String(), " is a collector's") != 1 {
				t.Errorf("stderr %q\nwant it to end with %q, once", stderr.String(), want)
			}
		})
	}
}
