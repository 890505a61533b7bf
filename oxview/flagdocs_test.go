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
	if !strings.HasPrefix(stdout.String(), "usage: oxview ") {
		t.Errorf("help starts %q, want \"usage: oxview \"", strings.SplitN(stdout.String(), "\n", 2)[0])
	}
	testenv.CheckFlagDocs(t, "oxview", testenv.OwnFlags(fs), testenv.DocFlags(t, "-", "docs/tools.md#oxview"), stdout.String())
}

func TestFlagsTakeBothSeparatorsAndSeconds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--reconnect_after", "1", "--pretty"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--reconnect_after", "0"}, strings.NewReader(""), &stdout, &stderr)
	if program.ExitCode(err, &stderr) != 2 {
		t.Fatalf("--reconnect_after 0: %v, want a usage error", err)
	}
}
