package cli

import (
	"flag"
	"strings"
)

// Defined, when set, is called with every flag set Conventions finishes. Tests
// use it to compare a command's flags with its help text and docs.
var Defined func(*flag.FlagSet)

// Conventions applies the flag conventions every ox command shares to fs, once
// all its flags are defined: a flag whose name has a '-' or a '_' also answers
// to the other separator (--index_name and --index-name, --flush-interval and
// --flush_interval), so no user has to remember which tool spells it which way.
// The names the tools documented first stay the ones their help shows.
func Conventions(fs *flag.FlagSet) {
	var names []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f) })
	for _, f := range names {
		for _, alias := range []string{
			strings.ReplaceAll(f.Name, "-", "_"),
			strings.ReplaceAll(f.Name, "_", "-"),
		} {
			if alias != f.Name && fs.Lookup(alias) == nil {
				fs.Var(f.Value, alias, aliasUsage+f.Name)
			}
		}
	}
	if Defined != nil {
		Defined(fs)
	}
}

// aliasUsage starts the usage of every flag Conventions adds.
const aliasUsage = "same as --"

// IsAlias reports whether f is a spelling Conventions added, not one of the
// command's own flags.
func IsAlias(f *flag.Flag) bool { return strings.HasPrefix(f.Usage, aliasUsage) }
