package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// TestFlagsAgreeWithHelpAndDocs: every flag is in the -h text (printed on
// stdout, starting "usage:") and in the docs table, and the table names no
// other flag.
func TestFlagsAgreeWithHelpAndDocs(t *testing.T) {
	testenv.CheckCommandFlags(t, "oxctl", func(args []string, stdout, stderr *bytes.Buffer) int {
		return program.ExitCode(run(context.Background(), args, strings.NewReader(""), stdout, stderr), stderr)
	}, "docs/tools.md#oxctl")
}
