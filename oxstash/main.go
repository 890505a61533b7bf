// Command oxstash ships BlueOx events to Elasticsearch, or to any store that
// accepts its bulk API, from a collector's live stream or from log files.
//
// See docs/oxstash.md and `oxstash -h`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// oxstash's live heap is about a batch (a MiB or two) while it allocates a
		// few KiB per event: with the default target the collector runs hundreds
		// of times a second. A higher target costs ~10 MiB and saves ~30% CPU.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal oxstash flushes and exits; a second one kills it.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	var u usageError
	switch {
	case err == nil:
	case errors.Is(err, errHelp):
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "run 'oxstash -h' for help")
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
