package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// originalKeys are the STATUS keys of the original oxd, which formatStatus
// shows in the original's form; every other key is a counter.
var originalKeys = []string{"last", "lag", "hosts", "events"}

// writeCounters appends, after the original's lines, the keys a newer oxd adds
// to STATUS as readable lines: nested objects flattened to dotted names, one
// value per line, sorted and aligned, so no raw JSON reaches the reader:
//
//	Counters:
//	  connections          0
//	  dropped.handshake    6
//	  files.errors.open    0
func writeCounters(b *strings.Builder, reply map[string]any) {
	var lines [][2]string
	for k, v := range reply {
		if !slices.Contains(originalKeys, k) {
			lines = flatten(lines, printable(k), v)
		}
	}
	if len(lines) == 0 {
		return
	}
	slices.SortFunc(lines, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	b.WriteString("\nCounters:\n")
	for _, l := range lines {
		fmt.Fprintf(b, "  %-*s  %s\n", width, l[0], l[1])
	}
}

// flatten appends name and v's readable value, or, for an object, a line per
// member named name.member; an empty object is one line "-".
func flatten(lines [][2]string, name string, v any) [][2]string {
	m, ok := v.(map[string]any)
	if !ok {
		return append(lines, [2]string{name, scalar(v)})
	}
	if len(m) == 0 {
		return append(lines, [2]string{name, "-"})
	}
	for k, sub := range m {
		lines = flatten(lines, name+"."+printable(k), sub)
	}
	return lines
}

// scalar formats one value for people: numbers without exponent, lists
// comma-separated, nothing as "-".
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return `""`
		}
		return printable(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		var lines [][2]string
		lines = flatten(lines, "", x)
		parts := make([]string, len(lines))
		for i, l := range lines {
			parts[i] = strings.TrimPrefix(l[0], ".") + "=" + l[1]
		}
		slices.Sort(parts)
		return strings.Join(parts, " ")
	}
	return printable(fmt.Sprint(v))
}
