package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// writeText writes the result as plain-text tables for a terminal (--summary).
func writeText(w io.Writer, r *result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }

	p("Events:\t%s\n", fmtCount(r.Events))
	if r.First != "" {
		p("Time:\t%s .. %s (%s)\n", r.First, r.Last, fmtSpan(r.LastUnix-r.FirstUnix))
	}
	p("Hosts:\t%s\n", distinct(r.Hosts))
	p("Input:\t%s\n", clean(strings.Join(r.Inputs, " "), 200))
	p("\n")

	p("TYPE\tCOUNT\tERRORS\tP50\tP90\tP99\tMAX\n")
	for _, t := range r.Types {
		p("%s\t%s\t%s", clean(t.Type, 60), fmtCount(t.Count), fmtCount(t.Errors))
		if d := t.Duration; d != nil {
			p("\t%s\t%s\t%s\t%s\n", fmtDur(d.P50), fmtDur(d.P90), fmtDur(d.P99), fmtDur(d.Max))
		} else {
			p("\t-\t-\t-\t-\n")
		}
	}
	p("(percentiles within %g%%)\n\n", r.DurationRelError*100)

	p("HOST\tCOUNT\tSHARE\n")
	for _, v := range r.Hosts.Values {
		p("%s\t%s\t%s\n", clean(v.Value, 60), countOf(v), fmtPct(v.Share))
	}
	approxNote(tw, r.Hosts)
	p("\n")

	for _, b := range r.By {
		p("BY %s (%s events with it, %s without)\n", clean(b.Field, 60), fmtCount(b.With), fmtCount(b.Without))
		p("VALUE\tCOUNT\tSHARE\tP90\n")
		for _, v := range b.Values {
			p90 := "-"
			if v.P90 != nil {
				p90 = fmtDur(*v.P90)
			}
			p("%s\t%s\t%s\t%s\n", clean(v.Value, 60), countOf(v), fmtPct(v.Share), p90)
		}
		approxNote(tw, b.topResult)
		p("\n")
	}

	p("ERRORS (%s): %s\n", clean(r.Errors.Field, 60), fmtCount(r.Errors.Count))
	if len(r.Errors.Messages.Values) > 0 {
		p("COUNT\tMESSAGE\n")
		for _, v := range r.Errors.Messages.Values {
			p("%s\t%s\n", countOf(v), clean(v.Value, 100))
		}
		approxNote(tw, r.Errors.Messages)
	}
	p("\n")

	if len(r.Subevents) > 0 {
		p("PARENT\tSUB-EVENT\tEVENTS\tPARENTS WITH\tTIME\tSHARE OF PARENT TIME\tNOT JOINED\n")
		for _, j := range r.Subevents {
			for _, sub := range j.Subs {
				p("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(j.Parent, 40), clean(sub.Type, 40), fmtCount(sub.Events), fmtCount(sub.Parents),
					fmtDur(sub.Seconds), fmtPct(sub.Share), fmtCount(sub.Unjoined))
			}
		}
		p("\n")
	}

	if r.Skipped.Count == 0 && len(r.Skipped.ReadErrors) == 0 {
		p("Damaged:\tnone\n")
	} else {
		p("Damaged:\t%d range(s), %d bytes skipped\n", r.Skipped.Count, r.Skipped.Bytes)
		p("INPUT\tOFFSET\tBYTES\tREASON\n")
		for _, sk := range r.Skipped.Ranges {
			p("%s\t%d\t%d\t%s\n", clean(sk.Input, 60), sk.Offset, sk.Bytes, clean(sk.Reason, 80))
		}
		for _, e := range r.Skipped.ReadErrors {
			p("%s\n", clean(e, 200))
		}
	}
	return tw.Flush()
}

// distinct is how many values a table holds: "n" or, when values were
// replaced, "more than n".
func distinct(t topResult) string {
	if t.Approximate {
		return fmt.Sprintf("more than %d", t.Distinct)
	}
	return strconv.Itoa(t.Distinct)
}

func approxNote(w io.Writer, t topResult) {
	if t.Approximate {
		fmt.Fprintf(w, "(approximate: counts marked ~ may be up to %d too high)\n", t.MaxError)
	}
}

// countOf is a count as shown: "~n" when it may be over the true count.
func countOf(v valueResult) string {
	if v.Error > 0 {
		return "~" + fmtCount(v.Count)
	}
	return fmtCount(v.Count)
}

// clean makes event-derived text safe for one terminal cell: control characters
// (and tabs, which would break the table) become '?', and it is cut to n runes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	if s == "" {
		return `""`
	}
	return s
}

// fmtDur formats seconds with three significant digits in a fitting unit.
func fmtDur(d float64) string {
	a := math.Abs(d)
	switch {
	case a == 0:
		return "0"
	case a < 1e-3:
		return sig(d*1e6) + " µs"
	case a < 1:
		return sig(d*1e3) + " ms"
	case a < 120:
		return sig(d) + " s"
	case a < 7200:
		return sig(d/60) + " min"
	case a < 3*86400:
		return sig(d/3600) + " h"
	}
	return sig(d/86400) + " d"
}

// sig formats f with three significant digits, without an exponent.
func sig(f float64) string {
	a := math.Abs(f)
	switch {
	case a >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// fmtSpan formats a time span for a heading.
func fmtSpan(d float64) string {
	if d >= 120 {
		return time.Duration(d * float64(time.Second)).Round(time.Second).String()
	}
	return fmtDur(d)
}

// fmtPct formats a share as a percentage.
func fmtPct(f float64) string {
	switch p := f * 100; {
	case p == 0:
		return "0%"
	case p < 0.1:
		return "<0.1%"
	case p < 10:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	}
}

// fmtCount writes n with thin groups of thousands (1,234,567).
func fmtCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
