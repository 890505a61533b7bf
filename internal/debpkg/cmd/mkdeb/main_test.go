package main

import (
	"testing"
	"time"
)

func TestDebianVersion(t *testing.T) {
	at := time.Date(2026, 12, 1, 22, 57, 12, 0, time.UTC)
	tests := []struct {
		name, describe, want string
	}{
		{"no tag: the commit", "cc47fce", "0.0~git20261201225712.cc47fce-1"},
		{"an all-digit hash is still a hash", "1234567", "0.0~git20261201225712.1234567-1"},
		{"a tag", "v1.2.0", "1.2.0-1"},
		{"a tag without v", "1.2.0", "1.2.0-1"},
		{"commits past a tag sort after it", "v1.2.0-5-gcc47fce", "1.2.0+git20261201225712.5.cc47fce-1"},
		{"a pre-release tag", "v1.3.0~rc1", "1.3.0~rc1-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DebianVersion(tc.describe, at)
			if got != tc.want {
				t.Fatalf("DebianVersion(%q) = %q, want %q", tc.describe, got, tc.want)
			}
			if !validVersion.MatchString(got) {
				t.Fatalf("%q is not a valid Debian version", got)
			}
		})
	}
}
