// Package cli is what the ox commands share around their run functions: the
// context that ends on SIGINT or SIGTERM, how a failure is shown to the user,
// and the exit status it maps to.
//
// A command's main is one line:
//
//	func main() { command.Main(run) }
//
// with command a Command that names the program and says how it prints errors.
package cli

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

// RunFunc is a command's whole life: it parses args, does the work with the
// given streams, and returns when it is done or ctx ends. It returns
// flag.ErrHelp (wrapped or not) after printing the help asked for with -h,
// and a usage error (see IsUsage) for a command line it cannot run with.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Command is a program's name and how it reports a failed run.
type Command struct {
	// Name is the program's name, e.g. "oxctl". Messages start with "Name: ".
	Name string
	// Prefixed says the errors run returns already start with "Name: ", so
	// they are printed as they are.
	Prefixed bool
	// HelpHint adds the line "run 'Name -h' for help" after a usage error.
	HelpHint bool
	// KillOnSecondSignal lets a second SIGINT or SIGTERM kill the process
	// while run is still shutting down after the first one. Otherwise
	// signals are ignored until run returns.
	KillOnSecondSignal bool
}

// Main runs run with the process's arguments and standard streams, under a
// context that ends at the first SIGINT or SIGTERM, and exits with the status
// ExitCode gives. It does not return. A first argument --version prints the
// version instead (AnswerVersion).
func (c Command) Main(run RunFunc) {
	if c.AnswerVersion(os.Args[1:], os.Stdout) {
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if c.KillOnSecondSignal {
		go func() {
			<-ctx.Done()
			stop() // the next signal gets Go's default action: exit
		}()
	}
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(c.ExitCode(err, os.Stderr))
}

// ExitCode prints err on stderr for the user and returns the exit status:
//
//   - 0, printing nothing, for nil and for flag.ErrHelp (the help has been
//     printed already);
//   - 2 for a usage error (IsUsage), followed by the help hint if c.HelpHint;
//   - 1 for any other error.
func (c Command) ExitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if c.Prefixed {
		fmt.Fprintln(stderr, err)
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
	}
	if !IsUsage(err) {
		return 1
	}
	if c.HelpHint {
		fmt.Fprintf(stderr, "run '%s -h' for help\n", c.Name)
	}
	return 2
}

// IsUsage reports whether err, or an error it wraps, is a mistake in the
// command line: it has a method Usage() bool that returns true. Commands may
// define their own usage error types this way, or use UsageError.
func IsUsage(err error) bool {
	var u interface{ Usage() bool }
	return errors.As(err, &u) && u.Usage()
}

// UsageError is a mistake in the command line (exit status 2). Its message is
// what the user reads after the program's name.
type UsageError struct {
	Msg string
}

// Usagef returns a UsageError with the message format and args make.
func Usagef(format string, args ...any) error {
	return UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Error returns the message.
func (e UsageError) Error() string { return e.Msg }

// Usage reports true: e is a usage error.
func (UsageError) Usage() bool { return true }
