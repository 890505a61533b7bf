package cli

import (
	"io"
	"os"
)

// IsTerminal reports whether r is a terminal: an *os.File the terminal driver
// answers for. It is the one rule every ox command uses to decide that stdin
// holds no input (and so, for oxview and oxstash, to read a collector's live
// stream instead). Files, pipes and character devices that are not terminals,
// /dev/null among them (what cron and systemd give as stdin), are input.
func IsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && isTTY(f.Fd())
}
