package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/blueox/ox/esbulk"
)

// deadLetter keeps the documents the store rejected for good, one JSON object per
// line, so they can be sent again with --replay once the cause is fixed:
//
//	{"time":"...","index":"blueox-2026.11.24","id":"...","status":400,"error_type":"mapper_parsing_exception","reason":"...","doc":{...}}
//
// The file is opened (for appending) at the first failure, so a clean run leaves
// nothing behind. Path "-" writes the lines to stderr instead.
type deadLetter struct {
	path   string
	stderr io.Writer
	now    func() time.Time

	mu      sync.Mutex
	f       *os.File
	n       int      // documents written
	err     error    // first write error; the documents are then printed to stderr
	reasons []string // the first few distinct reasons, for the summary

	undelivered, rejected int       // documents by failureKind
	lastReport            time.Time // of liveReport
}

// maxReasons bounds how many distinct failure reasons the summary repeats.
const maxReasons = 3

// deadLine is one line of a dead-letter file.
type deadLine struct {
	Time      string          `json:"time"`
	Index     string          `json:"index,omitempty"`
	ID        string          `json:"id,omitempty"`
	Status    int             `json:"status,omitempty"`
	ErrorType string          `json:"error_type,omitempty"`
	Reason    string          `json:"reason"`
	Doc       json.RawMessage `json:"doc"`
}

// add records one failure. It is called from the Writer's flushing goroutine.
func (d *deadLetter) add(f esbulk.Failure) {
	line, err := json.Marshal(deadLine{
		Time:      d.now().UTC().Format(time.RFC3339),
		Index:     f.Doc.Index,
		ID:        f.Doc.ID,
		Status:    f.Status,
		ErrorType: f.Type,
		Reason:    f.String(),
		Doc:       json.RawMessage(f.Doc.Body),
	})
	if err != nil {
		// The body was accepted by the Writer, so it is valid JSON; keep it as a
		// string if the encoder disagrees.
		line, _ = json.Marshal(map[string]string{"reason": f.String(), "doc_text": string(f.Doc.Body)})
	}
	line = append(line, '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	kind := failureKind(f)
	if kind == kindUndelivered {
		d.undelivered++
	} else {
		d.rejected++
	}
	if r := kind + ": " + f.String(); len(d.reasons) < maxReasons && !slices.Contains(d.reasons, r) {
		d.reasons = append(d.reasons, r)
	}
	d.liveReport(kind, f.String())
	if d.path == "-" {
		d.stderr.Write(line)
		return
	}
	if d.err == nil && d.f == nil {
		d.f, d.err = os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	if d.err == nil {
		_, d.err = d.f.Write(line)
	}
	if d.err != nil {
		// Never lose a document silently: without the file it goes to stderr.
		fmt.Fprintf(d.stderr, "oxstash: dead-letter %s: %v; document follows\n", d.path, d.err)
		d.stderr.Write(line)
	}
}

func (d *deadLetter) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return d.err
	}
	err := d.f.Close()
	if d.err != nil {
		return fmt.Errorf("oxstash: dead-letter %s: %w", d.path, d.err)
	}
	if err != nil {
		return fmt.Errorf("oxstash: dead-letter %s: %w", d.path, err)
	}
	return nil
}

// count fills in o's failed documents and their reasons.
func (d *deadLetter) count(o *outcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o.deadLetters, o.undelivered, o.rejected = d.n, d.undelivered, d.rejected
	o.reasons = slices.Clone(d.reasons)
}

// readDeadLetters calls fn with each document of a dead-letter file, and bad for
// each line that is not one (with its line number).
func readDeadLetters(r io.Reader, fn func(esbulk.Doc) error, bad func(line int, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 256<<20)
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l deadLine
		if err := json.Unmarshal(b, &l); err != nil {
			bad(n, err)
			continue
		}
		if len(l.Doc) == 0 || l.Doc[0] != '{' {
			bad(n, fmt.Errorf("no document object in %q", b[:min(len(b), 80)]))
			continue
		}
		if err := fn(esbulk.Doc{Index: l.Index, ID: l.ID, Body: l.Doc}); err != nil {
			return err
		}
	}
	return sc.Err()
}
