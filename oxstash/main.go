// Command oxstash ships BlueOx events to Elasticsearch, or to any store that
// accepts its bulk API, from a collector's live stream or from log files.
//
// See docs/oxstash.md and `oxstash -h`.
package main

import (
	"os"
	"runtime/debug"

	"github.com/blueox/ox/internal/cli"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// oxstash's live heap is about a batch (a MiB or two) while it allocates a
		// few KiB per event: with the default target the collector runs hundreds
		// of times a second. A higher target costs ~10 MiB and saves ~30% CPU.
		debug.SetGCPercent(400)
	}
	program.Main(run)
}

// program is how oxstash reports a failed run: its errors start with
// "oxstash:", a usage error is followed by a pointer to -h. After the first
// signal oxstash flushes and exits; a second one kills it.
var program = cli.Command{Name: "oxstash", Prefixed: true, HelpHint: true, KillOnSecondSignal: true}
