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
	testenv.CheckCommandFlags(t, "oxview", func(args []string, stdout, stderr *bytes.Buffer) int {
		return program.ExitCode(run(context.Background(), args, strings.NewReader(""), stdout, stderr), stderr)
	}, "docs/tools.md#oxview")
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
