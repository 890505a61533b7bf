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
	testenv.CheckCommandFlags(t, "oxingest", func(args []string, stdout, stderr *bytes.Buffer) int {
		return program.ExitCode(run(context.Background(), args, strings.NewReader(""), stdout, stderr), stderr)
	}, "docs/tools.md#oxingest")
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
