package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/blueox/ox/esbulk"
)

// How a document failed, in the words the summary and the live reports use.
const (
	kindUndelivered = "not delivered, node unreachable" // no answer: refused, reset, timeout
	kindRejected    = "rejected by the node"            // an answer that was not a success
)

// failureKind tells a document the node never answered for from one it
// refused: only the second is about the document or the store's settings.
func failureKind(f esbulk.Failure) string {
	if f.Status == 0 {
		return kindUndelivered
	}
	return kindRejected
}

// reportEvery bounds the live reports of delivery trouble: the first failure
// is reported at once, then at most one line per interval.
const reportEvery = 10 * time.Second

// liveReport says, while oxstash runs, that documents are failing: at the
// first failure, then at most every reportEvery, with the counts so far. The
// caller holds the dead letter's lock.
func (d *deadLetter) liveReport(kind, reason string) {
	now := d.now()
	if !d.lastReport.IsZero() && now.Sub(d.lastReport) < reportEvery {
		return
	}
	d.lastReport = now
	where := "appended to " + d.path
	if d.path == "-" {
		where = "printed on stderr"
	}
	fmt.Fprintf(d.stderr, "oxstash: %s: %s (so far %s not delivered, %s rejected, %s; still running)\n",
		kind, reason, plural(d.undelivered, "document"), plural(d.rejected, "document"), where)
}

// plural writes n and noun, with an s unless n is 1.
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// outcome is what a run did, for the summary and the exit status.
type outcome struct {
	inputs, badInputs int64 // files or streams; those that could not be read (to their end)
	events, badEvents int64 // events read; those that could not become documents
	documents         int64 // documents handed to the writer
	indexed           int64
	undelivered       int // documents the node never answered for
	rejected          int // documents the node refused
	deadLetters       int // documents in the dead-letter file (or printed)
	reasons           []string
	elapsed           time.Duration
	interrupted       bool
}

// summary writes the end-of-run lines on stderr: inputs and events, then
// documents, then why documents failed and where they are:
//
//	oxstash: 2 inputs (1 unreadable or damaged), 8 events read (0 bad input)
//	oxstash: 8 documents: 7 indexed, 0 not delivered, 1 rejected by the node in 0.1s (70 docs/s)
//	oxstash: rejected by the node: status 400: mapper_parsing_exception: ...
//	oxstash: 1 document appended to dead.ndjson (send it again with --replay)
func (o outcome) summary(w io.Writer, deadLetter string) {
	in := plural(o.inputs, "input")
	if o.badInputs > 0 {
		in += fmt.Sprintf(" (%d unreadable or damaged)", o.badInputs)
	}
	ev := plural(o.events, "event") + " read"
	if o.badEvents > 0 {
		ev += fmt.Sprintf(" (%d bad input, skipped)", o.badEvents)
	}
	fmt.Fprintf(w, "oxstash: %s, %s\n", in, ev)
	how := ""
	if o.interrupted {
		how = " (interrupted)"
	}
	rate := float64(o.indexed) / max(o.elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "oxstash: %s: %d indexed, %d not delivered, %d rejected by the node in %.1fs (%.0f docs/s)%s\n",
		plural(o.documents, "document"), o.indexed, o.undelivered, o.rejected, o.elapsed.Seconds(), rate, how)
	for _, r := range o.reasons {
		fmt.Fprintf(w, "oxstash: %s\n", r)
	}
	if o.deadLetters > 0 && deadLetter != "-" {
		it := "them"
		if o.deadLetters == 1 {
			it = "it"
		}
		fmt.Fprintf(w, "oxstash: %s appended to %s (send %s again with --replay)\n", plural(o.deadLetters, "document"), deadLetter, it)
	}
}

// failed reports whether anything was lost or refused, and says what in one
// line for the exit error.
func (o outcome) failed() (string, bool) {
	var parts []string
	if o.undelivered > 0 {
		parts = append(parts, plural(o.undelivered, "document")+" not delivered (node unreachable)")
	}
	if o.rejected > 0 {
		parts = append(parts, plural(o.rejected, "document")+" rejected by the node")
	}
	if o.badEvents > 0 {
		parts = append(parts, plural(o.badEvents, "event")+" of bad input")
	}
	if o.badInputs > 0 {
		parts = append(parts, plural(o.badInputs, "input")+" unreadable or damaged")
	}
	return strings.Join(parts, ", "), len(parts) > 0
}
