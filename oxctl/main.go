// Command oxctl asks a running collector (oxd) for its status, and is the home of
// its administrative subcommands.
//
//	oxctl                 status of the local oxd
//	oxctl -H logs:3513    status of another one
//	oxctl -r | jq .hosts  the STATUS reply as JSON
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and maps it to the exit status: 0 for success and -h, 2 for a
// usage error, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "oxctl:", err)
		fmt.Fprintln(stderr, "run 'oxctl -h' for help")
		return 2
	}
	fmt.Fprintln(stderr, "oxctl:", err)
	return 1
}
