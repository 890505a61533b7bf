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
	if !strings.HasPrefix(stdout.String(), "usage: oxctl ") {
		t.Errorf("help starts %q, want \"usage: oxctl \"", strings.SplitN(stdout.String(), "\n", 2)[0])
	}
	testenv.CheckFlagDocs(t, "oxctl", testenv.OwnFlags(fs), testenv.DocFlags(t, "-", "docs/tools.md#oxctl"), stdout.String())
}
