package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/cli"
)

func TestAnswerVersion(t *testing.T) {
	cmd := cli.Command{Name: "oxtool"}
	tests := []struct {
		name   string
		args   []string
		answer bool
	}{
		{"--version is answered", []string{"--version"}, true},
		{"-version is answered", []string{"-version"}, true},
		{"no arguments run the command", nil, false},
		{"other flags run the command", []string{"-v", "--version"}, false},
		{"a value that looks like it runs the command", []string{"--type", "--version"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := cmd.AnswerVersion(tc.args, &out); got != tc.answer {
				t.Fatalf("AnswerVersion(%q) = %v, want %v", tc.args, got, tc.answer)
			}
			if !tc.answer {
				if out.Len() != 0 {
					t.Fatalf("printed %q without answering", out.String())
				}
				return
			}
			if want := "oxtool " + cli.VersionString() + "\n"; out.String() != want {
				t.Fatalf("printed %q, want %q", out.String(), want)
			}
		})
	}
}

func TestVersionStringPrefersLinkTimeVersion(t *testing.T) {
	old := cli.Version
	defer func() { cli.Version = old }()
	cli.Version = "0.0~git20261201.abc1234"
	if got := cli.VersionString(); got != cli.Version {
		t.Fatalf("VersionString() = %q, want %q", got, cli.Version)
	}
	cli.Version = ""
	if got := cli.VersionString(); got == "" || strings.ContainsAny(got, " \n") {
		t.Fatalf("VersionString() without Version = %q, want one word", got)
	}
}
