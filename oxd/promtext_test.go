package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPromLabelValue: a type name from the network, as a label value, stays on its
// line, inside its quotes, and valid UTF-8.
func FuzzPromLabelValue(f *testing.F) {
	for _, s := range []string{"request", `a"b`, `a\b`, "a\nb", "\xff\xfe", `\"`, "\\\n\"", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := newPromText()
		p.family("x_total", "counter", "x.")
		p.sampleUint("x_total", 1, "type", s)
		lines := strings.Split(strings.TrimSuffix(string(p.b), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%q became %d lines", s, len(lines))
		}
		sample := lines[2]
		if !utf8.ValidString(sample) || !strings.HasPrefix(sample, `x_total{type="`) || !strings.HasSuffix(sample, `"} 1`) {
			t.Fatalf("bad sample %q", sample)
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(sample, `x_total{type="`), `"} 1`)
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				i++ // an escape: the next byte is taken as is
				if i >= len(inner) || !strings.ContainsRune(`\"n`, rune(inner[i])) {
					t.Fatalf("bad escape in %q", inner)
				}
			case '"':
				t.Fatalf("unescaped quote in %q", inner)
			}
		}
	})
}
