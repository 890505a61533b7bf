package testenv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/cli"
)

// docFlag finds the flags in a backticked cell: -t, --control, --retain-days.
var docFlag = regexp.MustCompile(`(?:^|[\s\[,(])(--?[a-zA-Z][a-zA-Z0-9_-]*)`)

// DocFlags returns the flags the docs name in the first column of their tables,
// without dashes, from the rows of the Markdown files (relative to the module
// root) whose first cell starts with "`" + row: "-" for the flag tables, a
// subcommand's name ("cat") for its row in a command table. A file written
// "docs/tools.md#oxview" is read only under the "## " heading that starts with
// "## oxview", to the next one.
func DocFlags(t testing.TB, row string, files ...string) []string {
	t.Helper()
	var names []string
	for _, file := range files {
		file, section, _ := strings.Cut(file, "#")
		b, err := os.ReadFile(filepath.Join(ModuleRoot(t), file))
		if err != nil {
			t.Fatal(err)
		}
		in := section == ""
		for line := range strings.Lines(string(b)) {
			if section != "" && strings.HasPrefix(line, "## ") {
				in = strings.HasPrefix(line, "## "+section)
			}
			if !in {
				continue
			}
			cells := strings.Split(line, "|")
			if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`"+row) {
				continue
			}
			for i, seg := range strings.Split(cells[1], "`") {
				if i%2 == 0 {
					continue // outside backticks
				}
				for _, m := range docFlag.FindAllStringSubmatch(seg, -1) {
					names = append(names, strings.TrimLeft(m[1], "-"))
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// OwnFlags returns the names of fs's flags, without the spellings
// cli.Conventions added and without those in skip.
func OwnFlags(fs *flag.FlagSet, skip ...string) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !cli.IsAlias(f) && !slices.Contains(skip, f.Name) {
			names = append(names, f.Name)
		}
	})
	return names
}

// CheckFlagDocs fails t unless the flags of a command (own) and those its docs
// tables name (doc) are the same set, and help, its -h text, names every one.
func CheckFlagDocs(t testing.TB, what string, own, doc []string, help string) {
	t.Helper()
	for _, name := range own {
		if !slices.Contains(doc, name) {
			t.Errorf("%s: flag -%s is missing from the docs table", what, name)
		}
		if !regexp.MustCompile(`(^|[\s\[,(])--?` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
			t.Errorf("%s: flag -%s is missing from the -h text", what, name)
		}
	}
	for _, name := range doc {
		if !slices.Contains(own, name) {
			t.Errorf("%s: the docs table names -%s, which is not a flag", what, name)
		}
	}
}

// CheckCommandFlags checks a command that prints its -h text on stdout: run,
// called with args and writing to stdout and stderr, returns the exit status.
// Run with "-h", it must exit 0 with nothing on stderr and print help starting
// "usage: " + name + " "; then CheckFlagDocs compares the first flag set it
// defined with the flags the docs tables in files name (see DocFlags).
func CheckCommandFlags(t testing.TB, name string, run func(args []string, stdout, stderr *bytes.Buffer) int, files ...string) {
	t.Helper()
	var fs *flag.FlagSet
	cli.Defined = func(f *flag.FlagSet) {
		if fs == nil {
			fs = f
		}
	}
	defer func() { cli.Defined = nil }()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("-h: exit %d, stderr %q", code, stderr.String())
	}
	if want := "usage: " + name + " "; !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("help starts %q, want %q", strings.SplitN(stdout.String(), "\n", 2)[0], want)
	}
	CheckFlagDocs(t, name, OwnFlags(fs), DocFlags(t, "-", files...), stdout.String())
}
