package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
)

// TestStatusOfARealOxdIsReadableText: the original's lines first, then every
// counter on a line of its own, and no raw JSON; --timeout takes bare seconds.
func TestStatusOfARealOxdIsReadableText(t *testing.T) {
	o := oxdtest.Start(t, filepath.Join(t.TempDir(), "logs"))
	for _, timeout := range []string{"1", "1.5", "2s"} {
		t.Run("--timeout "+timeout, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"-H", o.Control, "--timeout", timeout}, nil, &stdout, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			out := stdout.String()
			if strings.ContainsAny(out, "{}[]\"") {
				t.Errorf("raw JSON in the status:\n%s", out)
			}
			wantOrder := []string{"Host: " + o.Control + "\n", "Last: never\n", "Lag: -\n", "\nCounters:\n"}
			at := 0
			for _, w := range wantOrder {
				i := strings.Index(out[at:], w)
				if i < 0 {
					t.Fatalf("%q missing or out of order in:\n%s", w, out)
				}
				at += i + len(w)
			}
			for _, line := range []string{`received +0`, `files\.errors\.open +0`, `files\.lost_on_error +0`, `dropped\.handshake +0`, `stream\.port +\d+`} {
				if !regexp.MustCompile(`(?m)^  ` + line + `$`).MatchString(out) {
					t.Errorf("no line %q in:\n%s", line, out)
				}
			}
		})
	}
}

func TestTimeoutTakesDurationsAndSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"1": time.Second, "0.25": 250 * time.Millisecond, "3s": 3 * time.Second} {
		g := &globals{}
		fs := newFlagSet("oxctl")
		g.bind(fs)
		if err := parse(fs, []string{"--timeout", in}, nil); err != nil || g.timeout != want {
			t.Errorf("--timeout %s: %v %v, want %v", in, g.timeout, err, want)
		}
	}
}
