//go:build !linux

package cli_test

import (
	"os"
	"testing"
)

// openPTY is not written for this system: the terminal case is not tested.
func openPTY(*testing.T) *os.File { return nil }
