package cli

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Version is the version of ox the program was built from. Release builds set
// it at link time (make deb does):
//
//	go build -ldflags "-X github.com/blueox/ox/internal/cli.Version=1.2.0-1" ./oxd
//
// Left empty, VersionString falls back to what the Go toolchain recorded
// (a module version for go install, else the commit).
var Version string

// VersionString returns Version, or when it was not set at link time the
// module version or VCS revision from the build info, else "devel".
func VersionString() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// AnswerVersion prints "<name> <version>" on w and reports true when the
// first argument asks for the version (--version or -version, the spellings
// the flag package accepts). Main calls it before run, so every command
// answers --version the same way without a flag of its own.
func (c Command) AnswerVersion(args []string, w io.Writer) bool {
	if len(args) == 0 || (args[0] != "--version" && args[0] != "-version") {
		return false
	}
	fmt.Fprintf(w, "%s %s\n", c.Name, VersionString())
	return true
}
