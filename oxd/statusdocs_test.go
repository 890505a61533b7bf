package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// TestEveryStatusKeyIsDocumented: oxctl status shows every STATUS key as a
// line of its own, so each must be explained somewhere: docs/oxd.md or
// docs/forwarding.md names it in backticks (a nested key by its own name).
// The keys under events and hosts are type and host names, and those under
// dropped are the reasons the drop table lists.
func TestEveryStatusKeyIsDocumented(t *testing.T) {
	var docs strings.Builder
	for _, f := range []string{"docs/oxd.md", "docs/forwarding.md"} {
		b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	configs := map[string]func(*options, *daemon){
		"files, plain forwarding and a link": func(o *options, _ *daemon) {
			o.forward = freeAddr(t)
			o.link = freeAddr(t)
		},
		"spooled forwarding": func(o *options, _ *daemon) {
			o.spoolPath = filepath.Join(t.TempDir(), "spool")
			o.spoolMaxMB = 16
			o.failover = 1e9
			o.targets = []string{freeAddr(t)}
			o.forward = o.targets[0]
		},
	}
	for name, mod := range configs {
		t.Run(name, func(t *testing.T) {
			x := startOxd(t, mod)
			var walk func(prefix string, m map[string]any)
			walk = func(prefix string, m map[string]any) {
				for k, v := range m {
					if !strings.Contains(docs.String(), "`"+k+"`") {
						t.Errorf("STATUS key %s%s is not in docs/oxd.md or docs/forwarding.md", prefix, k)
					}
					switch k {
					case "events", "hosts", "dropped":
						continue
					}
					if sub, ok := v.(map[string]any); ok {
						walk(prefix+k+".", sub)
					}
				}
			}
			walk("", x.status(t))
		})
	}
}
