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
	if !strings.HasPrefix(stdout.String(), "usage: oxstash ") {
		t.Errorf("help starts %q, want \"usage: oxstash \"", strings.SplitN(stdout.String(), "\n", 2)[0])
	}
	testenv.CheckFlagDocs(t, "oxstash", testenv.OwnFlags(fs), testenv.DocFlags(t, "-", "docs/oxstash.md"), stdout.String())
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
