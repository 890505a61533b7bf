package cli_test

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/cli"
)

func TestIsTerminalAsksTheTerminalDriver(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.CreateTemp(t.TempDir(), "input")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tests := []struct {
		name string
		in   io.Reader
		want bool
	}{
		{"/dev/null, a character device, is input", devNull, false},
		{"a pipe is input", r, false},
		{"a file is input", file, false},
		{"a reader that is not a file is input", strings.NewReader("x"), false},
	}
	if pty := openPTY(t); pty != nil {
		tests = append(tests, struct {
			name string
			in   io.Reader
			want bool
		}{"a pseudo-terminal is a terminal", pty, true})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.IsTerminal(tc.in); got != tc.want {
				t.Errorf("IsTerminal = %v, want %v", got, tc.want)
			}
		})
	}
}
