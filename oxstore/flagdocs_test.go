package main

import (
	"bytes"
	"context"
	"flag"
	"slices"
	"testing"

	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/testenv"
)

// helpAndFlags runs oxstore with args (ending in -h) and returns the help it
// printed and the last flag set it defined.
func helpAndFlags(t *testing.T, args ...string) (string, *flag.FlagSet) {
	t.Helper()
	var fs *flag.FlagSet
	cli.Defined = func(f *flag.FlagSet) { fs = f }
	defer func() { cli.Defined = nil }()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, nil, &stdout, &stderr); err != flag.ErrHelp {
		t.Fatalf("%v: %v %s", args, err, stderr.String())
	}
	return stdout.String(), fs
}

// TestFlagsAgreeWithHelpAndDocs: the global options and each command's own
// are in its -h text and in docs/oxstore.md's tables, and nothing more.
func TestFlagsAgreeWithHelpAndDocs(t *testing.T) {
	help, global := helpAndFlags(t, "-h")
	globals := testenv.OwnFlags(global)
	testenv.CheckFlagDocs(t, "oxstore", globals, testenv.DocFlags(t, "-", "docs/oxstore.md"), help)
	for _, cmd := range []string{"zip", "prune", "upload", "download", "cat", "archive", "verify"} {
		help, fs := helpAndFlags(t, cmd, "-h")
		own := testenv.OwnFlags(fs, globals...)
		doc := slices.DeleteFunc(testenv.DocFlags(t, cmd, "docs/oxstore.md"), func(n string) bool { return slices.Contains(globals, n) })
		testenv.CheckFlagDocs(t, "oxstore "+cmd, own, doc, help)
	}
}

func TestFlagsTakeBothSeparators(t *testing.T) {
	var g globals
	fs := flag.NewFlagSet("oxstore", flag.ContinueOnError)
	g.register(fs)
	cli.Conventions(fs)
	if err := fs.Parse([]string{"--log_path", "/l", "--lock_file", "/k"}); err != nil {
		t.Fatal(err)
	}
	if g.logPath != "/l" || g.lockFile != "/k" {
		t.Fatalf("globals %+v", g)
	}
}
