// Command oxd is the BlueOx collector: it receives events that applications PUSH to
// its collection port, appends them to per-type log files, publishes them on a live
// stream, forwards them to another collector, and answers status requests on its
// control port. It is wire- and file-compatible with the original BlueOx oxd.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "oxd:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, err) // run's errors start with "oxd:"
		os.Exit(1)
	}
}

// run is oxd's whole life: parse args, serve until ctx ends or a SHUTDOWN command,
// then flush and close everything. It returns nil after a clean shutdown.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
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
