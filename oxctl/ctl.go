package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/evjson"
)

const usageText = `usage: oxctl [flags] [command [command flags]]

Talks to a collector (oxd) on its control port.

Commands:
  status    print what the collector received lately (the default)
  forward HOST:PORT[,HOST:PORT...]
            re-point a spooling oxd (oxd --spool-path) at other collectors'
            --link addresses (port 3515 if none), without a restart or losing
            anything spooled; without an address, print the current targets
  top [--interval D]
            a live view refreshed every second (--interval): events per
            second by type, drops, stream and forwarder state; q or Ctrl-C
            leaves it; with output not a terminal, one snapshot

Flags (accepted before or after the command):
  -H, --host HOST[:PORT]  control address (default $BLUEOX_CLIENT_HOST, else
                          127.0.0.1; port 3513)
  -r, --raw               print the reply as JSON instead of text
  --timeout DURATION      give up when there is no answer within this time
                          (default 5s); the error says so, exit status 1

Durations take Go durations or seconds (--timeout 1).

Exit status: 0 done, 1 no answer or an error reply, 2 usage error.
`

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Usage marks e as a usage error for cli.IsUsage.
func (usageError) Usage() bool { return true }

// globals are the flags every command accepts.
type globals struct {
	host    string
	raw     bool
	timeout time.Duration
}

// bind adds the global flags to fs, bound to g, so they work before and after
// the command name.
func (g *globals) bind(fs *flag.FlagSet) {
	fs.StringVar(&g.host, "H", g.host, "")
	fs.StringVar(&g.host, "host", g.host, "")
	fs.BoolVar(&g.raw, "r", g.raw, "")
	fs.BoolVar(&g.raw, "raw", g.raw, "")
	cli.DurationVar(fs, &g.timeout, "timeout", g.timeout, "")
}

// command is one oxctl subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, g *globals, args []string, stdout io.Writer) error
}

// commands lists the subcommands; the first is the default.
func commands() []command {
	return []command{
		{name: "status", summary: "print what the collector received lately", run: runStatus},
		{name: "forward", summary: "re-point a spooling oxd at other collectors", run: runForward},
		{name: "top", summary: "a live view of a running oxd", run: runTop},
	}
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := &globals{timeout: 5 * time.Second}
	fs := newFlagSet("oxctl")
	g.bind(fs)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	cmds := commands()
	cmd := cmds[0]
	rest := fs.Args()
	if len(rest) > 0 {
		i := slices.IndexFunc(cmds, func(c command) bool { return c.name == rest[0] })
		if i < 0 {
			return usageError{fmt.Sprintf("unknown command %q", rest[0])}
		}
		cmd, rest = cmds[i], rest[1:]
	}
	return cmd.run(ctx, g, rest, stdout)
}

// runStatus sends STATUS and prints the reply.
func runStatus(ctx context.Context, g *globals, args []string, stdout io.Writer) error {
	fs := newFlagSet("oxctl status")
	g.bind(fs)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("status: unexpected argument %q", fs.Arg(0))}
	}
	if g.timeout <= 0 {
		return usageError{"--timeout must be positive"}
	}
	addr, err := ox.ControlAddr(g.host)
	if err != nil {
		return usageError{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	reply, err := ox.Status(ctx, addr)
	if err != nil {
		if wrongPort(err) {
			return err // names the port reached and the one wanted
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer from %s within %s (is oxd running there?)", addr, g.timeout)
		}
		return fmt.Errorf("status of %s: %w", addr, err)
	}
	if g.raw {
		_, err = stdout.Write(append(evjson.AppendIndent(nil, reply, "  "), '\n'))
		return err
	}
	if e, ok := reply["error"]; ok {
		return fmt.Errorf("status of %s: the collector answered with an error: %v", addr, e)
	}
	_, err = io.WriteString(stdout, formatStatus(addr, reply, time.Now()))
	return err
}

// formatStatus renders a STATUS reply for people:
//
//	Host: 127.0.0.1:3513
//	Last: 2026-11-24 12:00:06 UTC (27 secs ago)
//	Lag: 27.55 secs
//
//	Hosts:
//	  vm       2026-11-24 12:00:00 UTC (33 secs ago)
//	Events:
//	  request  2026-11-24 12:00:00 UTC (33 secs ago)
//
// Keys beyond the original four (counters a newer oxd adds) follow as readable
// lines under "Counters:" (see writeCounters).
func formatStatus(addr string, reply map[string]any, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Host: %s\n", addr)
	fmt.Fprintf(&b, "Last: %s\n", when(reply["last"], now))
	if lag, ok := number(reply["lag"]); ok {
		fmt.Fprintf(&b, "Lag: %.2f secs\n", lag)
	} else {
		b.WriteString("Lag: -\n")
	}
	sections := []struct{ title, key string }{{"Hosts", "hosts"}, {"Events", "events"}}
	width := 0
	for _, sec := range sections {
		m, _ := reply[sec.key].(map[string]any)
		for name := range m {
			width = max(width, len(printable(name)))
		}
	}
	for _, sec := range sections {
		m, _ := reply[sec.key].(map[string]any)
		if len(m) == 0 {
			continue
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "\n%s:\n", sec.title)
		for _, name := range names {
			var last any
			if info, ok := m[name].(map[string]any); ok {
				last = info["last"]
			}
			fmt.Fprintf(&b, "  %-*s  %s\n", width, printable(name), when(last, now))
		}
	}
	writeCounters(&b, reply)
	return b.String()
}

// when formats a Unix time as "<time> (<n> secs ago)", or "never".
func when(v any, now time.Time) string {
	f, ok := number(v)
	if !ok {
		return "never"
	}
	t := ox.FloatTime(f)
	if t.IsZero() {
		return fmt.Sprint(v)
	}
	ago := int64(now.Sub(t).Seconds())
	return fmt.Sprintf("%s (%d secs ago)", t.Format("2006-01-02 15:04:05 MST"), ago)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// printable replaces control characters, which a type name from the network may
// hold, so they cannot rewrite the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
