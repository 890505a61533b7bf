package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
)

// runForward sends FORWARD: it re-points a spooling oxd at new targets, or, without
// an argument, prints the current ones.
//
//	oxctl -H edge1 forward backup:3515
//	oxctl -H edge1 forward central:3515,backup:3515
func runForward(ctx context.Context, g *globals, args []string, stdout io.Writer) error {
	fs := newFlagSet("oxctl forward")
	g.bind(fs)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{"forward: give the targets as one argument, HOST:PORT[,HOST:PORT...]"}
	}
	if g.timeout <= 0 {
		return usageError{"--timeout must be positive"}
	}
	addr, err := ox.ControlAddr(g.host)
	if err != nil {
		return usageError{err.Error()}
	}
	req := map[string]any{"cmd": "FORWARD"}
	if fs.NArg() == 1 {
		targets := fs.Arg(0)
		for _, t := range strings.Split(targets, ",") {
			if strings.TrimSpace(t) == "" {
				return usageError{fmt.Sprintf("forward: empty target in %q", targets)}
			}
		}
		req["targets"] = targets
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	reply, err := ox.ControlRequest(ctx, addr, req)
	if err != nil {
		if wrongPort(err) {
			return err // names the port reached and the one wanted
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer from %s within %s (is oxd running there?)", addr, g.timeout)
		}
		return fmt.Errorf("forward on %s: %w", addr, err)
	}
	if g.raw {
		if _, err := stdout.Write(append(evjson.AppendIndent(nil, reply, "  "), '\n')); err != nil {
			return err
		}
	}
	if e, ok := reply["error"]; ok {
		return fmt.Errorf("forward on %s: %v", addr, e)
	}
	if g.raw {
		return nil
	}
	var list []string
	if ts, ok := reply["targets"].([]any); ok {
		for _, t := range ts {
			list = append(list, fmt.Sprint(t))
		}
	}
	if fs.NArg() == 1 {
		_, err = fmt.Fprintf(stdout, "%s now forwards to %s\n", addr, strings.Join(list, ", "))
	} else {
		_, err = fmt.Fprintf(stdout, "%s forwards to %s (using %v)\n", addr, strings.Join(list, ", "), reply["target"])
	}
	return err
}

// wrongPort reports whether err says --host reached another kind of port.
func wrongPort(err error) bool {
	var wrong *ox.WrongPortError
	return errors.As(err, &wrong)
}
