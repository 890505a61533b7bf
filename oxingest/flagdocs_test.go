package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/testenv"
)

// TestFlagsAgreeWithHelpAndDocs: every flag is in the -h text (printed on
// stdout, starting "usage:") and in the docs table, and the table names no
// other flag.
func TestFlagsAgreeWithHelpAndDocs(t *testing.T) {
	var fs *flag.FlagSet
	cli.Defined = func(f *flag.FlagSet) {
		if fs == nil {
			fs = f
		}
	}
	defer func() { cli.Defined = nil }()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, strings.NewReader(""), &stdout, &stderr)
	if code := program.ExitCode(err, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("-h: exit %d, stderr %q", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "usage: oxingest ") {
		t.Errorf("help starts %q, want \"usage: oxingest \"", strings.SplitN(stdout.String(), "\n", 2)[0])
	}
	testenv.CheckFlagDocs(t, "oxingest", testenv.OwnFlags(fs), testenv.DocFlags(t, "-", "docs/tools.md#oxingest"), stdout.String())
}

func TestFlagsTakeBothSeparatorsAndSeconds(t *testing.T) {
	o, err := parseOptions([]string{"--drain_timeout", "2", "--poll", "0.1", "--max_line", "10",
		"--state_file", "/s", "-F", "/x"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.drainTimeout.Seconds() != 2 || o.poll.Milliseconds() != 100 || o.maxLine != 10 || o.stateFile != "/s" {
		t.Fatalf("options %+v", o)
	}
}
