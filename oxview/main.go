// Command oxview prints BlueOx events as JSON, live from a collector's stream or
// from a log file on stdin (plain, gzip or bzip2).
//
//	oxview -H logs.example.com -n 'request*'
//	oxview -p < /var/log/blueox/20261124/request-20261124.log
//	oxview --group < request-20261123.log.bz2
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

// exitCode prints err (when it has not been printed yet) and maps it to the exit
// status: 0 for success and -h, 2 for a usage error, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "oxview:", err)
		fmt.Fprintln(stderr, "run 'oxview -h' for help")
		return 2
	}
	fmt.Fprintln(stderr, "oxview:", err)
	return 1
}
