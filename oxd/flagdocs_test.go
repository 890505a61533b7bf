package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/testenv"
)

// TestFlagsAgreeWithHelpAndDocs: every flag is in the -h text and in a flag
// table of docs/oxd.md or docs/forwarding.md, and every flag there exists.
func TestFlagsAgreeWithHelpAndDocs(t *testing.T) {
	var fs *flag.FlagSet
	cli.Defined = func(f *flag.FlagSet) { fs = f }
	defer func() { cli.Defined = nil }()
	var help bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, &help); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	doc := testenv.DocFlags(t, "-", "docs/oxd.md", "docs/forwarding.md")
	doc = without(doc, "vv") // -vv is -v twice
	testenv.CheckFlagDocs(t, "oxd", testenv.OwnFlags(fs), doc, help.String())
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

func TestFlagsTakeBothSeparatorsAndSeconds(t *testing.T) {
	o, err := parseOptions([]string{"--log_path", "/tmp/x", "--spool_path", "/tmp/s", "--forward", "a,b",
		"--failover_after", "3", "--spool_max_mb", "5", "--max_connections", "7"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.logPath != "/tmp/x" || o.spoolPath != "/tmp/s" || o.failover.Seconds() != 3 || o.spoolMaxMB != 5 || o.maxConns != 7 {
		t.Fatalf("options %+v", o)
	}
}

func TestHelpGoesToStdoutAndSaysUsage(t *testing.T) {
	var stdout bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, &stdout); err != flag.ErrHelp {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("usage: oxd ")) {
		t.Fatalf("help %q", stdout.String()[:40])
	}
}
