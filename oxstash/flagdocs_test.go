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
	testenv.CheckCommandFlags(t, "oxstash", func(args []string, stdout, stderr *bytes.Buffer) int {
		return program.ExitCode(run(context.Background(), args, strings.NewReader(""), stdout, stderr), stderr)
	}, "docs/oxstash.md")
}

func TestFlagsTakeBothSeparatorsAndSeconds(t *testing.T) {
	o, err := parseOptions([]string{"--index-name", "x", "--chunk-size", "3", "--flush_interval", "2",
		"--max_retries", "1", "--request-timeout", "4", "--dead_letter", "d"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.indexName != "x" || o.chunkSize != 3 || o.flushInterval.Seconds() != 2 || o.maxRetries != 1 ||
		o.requestTimeout.Seconds() != 4 || o.deadLetter != "d" {
		t.Fatalf("options %+v", o)
	}
	if _, err := parseOptions([]string{"--request_timeout", "0"}, &bytes.Buffer{}); err == nil {
		t.Fatal("--request_timeout 0 accepted")
	}
}
