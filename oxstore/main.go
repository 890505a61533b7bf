// Command oxstore manages the log files a BlueOx collector writes: it compresses
// finished files, prunes old ones, and archives them to S3 (or any S3-compatible
// store), from where it can download them or stream them back in time order.
//
//	oxstore [global options] zip|prune|upload|download|cat|archive|verify [options]
//
// See docs/oxstore.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/blueox/ox/internal/cli"
)

func main() { program.Main(run) }

// program is how oxstore reports a failed run: "oxstore: " before the error.
var program = cli.Command{Name: "oxstore"}

// errHelp means -h was given and the help has been printed (exit status 0).
var errHelp = flag.ErrHelp

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{
		stdout: stdout, stderr: stderr,
		getenv:   os.Getenv,
		now:      time.Now,
		hostname: os.Hostname,
		dir:      ".",
	}
	return a.run(ctx, args)
}

// app is what every subcommand shares: its streams, environment, clock and
// host name, all injectable so tests can drive oxstore without touching the
// process's own.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	hostname       func() (string, error)
	dir            string // where download writes (the current directory)

	// newStore, when set, replaces the S3 store (never in production).
	newStore func(bucket string) (store, error)
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

const mainUsage = `usage: oxstore [global options] <command> [options]

Manages BlueOx log files: <log-path>/<YYYYMMDD>/<type>-<YYYYMMDD[HH]>.log

Commands:
  zip       gzip finished log files, then remove the originals
  prune     remove date folders older than --retain-days (default 7)
  upload    copy log files to the bucket as <YYYYMMDD>/<type>-<date>-<host>.log.gz
  download  fetch one type's files for a time range into the current directory
  cat       write one type's log data for a time range to stdout, in time order
  archive   zip, upload, then prune only what is safely in the bucket
  verify    compare local files with the bucket and list what differs

Global options (also accepted after the command):
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    S3 bucket (default $BLUEOX_BUCKET)
      --lock-file FILE hold an exclusive lock on FILE; a second run fails at once
  -v                   progress and details on stderr

S3 settings come from the AWS environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE, AWS_DEFAULT_REGION / AWS_REGION (default us-east-1),
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for S3-compatible stores.

Run 'oxstore <command> -h' for a command's options.
`

func (a *app) run(ctx context.Context, args []string) error {
	var g globals
	g.defaults(a.getenv)
	fs := flag.NewFlagSet("oxstore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, mainUsage)
			return errHelp
		}
		return cli.Usagef("%v (see oxstore -h)", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(a.stderr, mainUsage)
		return cli.Usagef("no command given")
	}
	var cmd command
	switch rest[0] {
	case "zip":
		cmd = &zipCmd{app: a, g: &g}
	case "prune":
		cmd = &pruneCmd{app: a, g: &g}
	case "upload":
		cmd = &uploadCmd{app: a, g: &g}
	case "download":
		cmd = &downloadCmd{app: a, g: &g}
	case "cat":
		cmd = &catCmd{app: a, g: &g}
	case "archive":
		cmd = &archiveCmd{app: a, g: &g}
	case "verify":
		cmd = &verifyCmd{app: a, g: &g}
	case "help":
		fmt.Fprint(a.stdout, mainUsage)
		return nil
	default:
		return cli.Usagef("unknown command %q (see oxstore -h)", rest[0])
	}
	return cmd.Run(ctx, rest[1:])
}

// globals are the options every command takes.
type globals struct {
	logPath  string
	bucket   string
	lockFile string
	verbose  bool
}

func (g *globals) defaults(getenv func(string) string) {
	g.logPath = getenv("BLUEOX_LOG_PATH")
	if g.logPath == "" {
		g.logPath = "/var/log/blueox"
	}
	g.bucket = getenv("BLUEOX_BUCKET")
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.logPath, "p", g.logPath, "log folder")
	fs.StringVar(&g.logPath, "log-path", g.logPath, "log folder")
	fs.StringVar(&g.bucket, "b", g.bucket, "S3 bucket")
	fs.StringVar(&g.bucket, "bucket", g.bucket, "S3 bucket")
	fs.StringVar(&g.lockFile, "lock-file", g.lockFile, "exclusive lock file")
	fs.BoolVar(&g.verbose, "v", g.verbose, "progress on stderr")
}

// parseFlags parses a subcommand's arguments; usage is its help text.
func (a *app) parseFlags(fs *flag.FlagSet, args []string, usage string) error {
	fs.SetOutput(io.Discard)
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, usage)
			return errHelp
		}
		return cli.Usagef("%s: %v (see oxstore %s -h)", fs.Name(), err, fs.Name())
	}
	return nil
}

// logf prints a line on stderr when -v is given.
func (a *app) logf(g *globals, format string, args ...any) {
	if g.verbose {
		fmt.Fprintf(a.stderr, format+"\n", args...)
	}
}

// warnf always prints a line on stderr.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "oxstore: "+format+"\n", args...)
}

// withLock runs fn holding the --lock-file lock, if one is set.
func (a *app) withLock(g *globals, fn func() error) error {
	if g.lockFile == "" {
		return fn()
	}
	unlock, err := lockFile(g.lockFile)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}
