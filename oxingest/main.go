// Command oxingest sends lines of text to a BlueOx collector as events, from stdin
// or by following log files like tail -F.
//
//	echo "I'm all done" | oxingest notices
//	oxingest -F /var/log/syslog -F /var/log/mail.err
//	oxingest -F nginx_access:/var/log/nginx/access.log --state-file /var/lib/oxingest.state
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
		fmt.Fprintln(stderr, "oxingest:", err)
		fmt.Fprintln(stderr, "run 'oxingest -h' for help")
		return 2
	}
	fmt.Fprintln(stderr, "oxingest:", err)
	return 1
}
