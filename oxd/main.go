// Command oxd is the BlueOx collector: it receives events that applications PUSH to
// its collection port, appends them to per-type log files, publishes them on a live
// stream, forwards them to another collector, and answers status requests on its
// control port. It is wire- and file-compatible with the original BlueOx oxd.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/blueox/ox/internal/cli"
)

func main() { program.Main(run) }

// program is how oxd reports a failed run: run's errors, usage errors
// included, start with "oxd:".
var program = cli.Command{Name: "oxd", Prefixed: true}

// run is oxd's whole life: parse args, serve until ctx ends or a SHUTDOWN command,
// then flush and close everything. It returns nil after a clean shutdown.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stdout)
	if err != nil {
		return err
	}
	setMemoryLimit()
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return fmt.Errorf("oxd: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("oxd: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	d, err := newDaemon(opts, stdout)
	if err != nil {
		return err
	}
	return d.run(ctx)
}
