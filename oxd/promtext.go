package main

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// promText writes the Prometheus text exposition format, version 0.0.4: each
// family's HELP and TYPE once, then its samples, together; label values escaped and
// label names in sorted order, so the same state always renders the same bytes.
//
// It is a few dozen lines of the standard library where a client library would be
// a dependency; the format is small and stable, and promtool check metrics tests it.
type promText struct {
	b    []byte
	seen map[string]bool // families written, to keep HELP and TYPE unique
}

// ContentType is the media type of what promText writes.
const promContentType = "text/plain; version=0.0.4; charset=utf-8"

func newPromText() *promText { return &promText{seen: map[string]bool{}} }

// family starts a metric family: typ is "counter", "gauge" or "untyped". Counters'
// names end in _total. A family already written is not started again (its samples
// would no longer be together): the call reports false and the caller skips it.
func (p *promText) family(name, typ, help string) bool {
	if p.seen[name] {
		return false
	}
	p.seen[name] = true
	p.b = append(p.b, "# HELP "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = appendHelp(p.b, help)
	p.b = append(p.b, "\n# TYPE "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, typ...)
	p.b = append(p.b, '\n')
	return true
}

// sample writes one sample of the current family. labels are name, value pairs.
func (p *promText) sample(name string, v float64, labels ...string) {
	p.b = append(p.b, name...)
	p.b = appendLabels(p.b, labels)
	p.b = append(p.b, ' ')
	p.b = appendFloat(p.b, v)
	p.b = append(p.b, '\n')
}

// sampleUint writes a sample whose value is an exact integer.
func (p *promText) sampleUint(name string, v uint64, labels ...string) {
	p.b = append(p.b, name...)
	p.b = appendLabels(p.b, labels)
	p.b = append(p.b, ' ')
	p.b = strconv.AppendUint(p.b, v, 10)
	p.b = append(p.b, '\n')
}

// one writes a family with a single sample.
func (p *promText) one(name, typ, help string, v float64, labels ...string) {
	if p.family(name, typ, help) {
		p.sample(name, v, labels...)
	}
}

func appendLabels(b []byte, labels []string) []byte {
	if len(labels) < 2 {
		return b
	}
	idx := make([]int, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		idx = append(idx, i)
	}
	slices.SortFunc(idx, func(a, c int) int { return strings.Compare(labels[a], labels[c]) })
	b = append(b, '{')
	for n, i := range idx {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, `="`...)
		b = appendLabelValue(b, labels[i+1])
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendLabelValue escapes backslash, double quote and newline, as the format
// asks; bytes that are not UTF-8 (names come from the network) become U+FFFD.
func appendLabelValue(b []byte, s string) []byte {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendHelp(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// promName turns a STATUS key into a metric name part: lower case letters, digits
// and underscores only.
func promName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
