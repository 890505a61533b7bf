package main

import (
	"fmt"
	"time"
)

// progress reports long work on stderr with -v: files done, bytes and rate, at
// most once a second, and once at the end.
type progress struct {
	a          *app
	on         bool
	what       string
	files      int
	totalFiles int
	bytes      int64
	totalBytes int64
	skipped    int // files left out, each already reported with -v
	start      time.Time
	last       time.Time
}

func (a *app) newProgress(g *globals, what string, files int, bytes int64) *progress {
	now := time.Now()
	return &progress{a: a, on: g.verbose, what: what, totalFiles: files, totalBytes: bytes, start: now, last: now}
}

// add counts n more bytes done.
func (p *progress) add(n int64) {
	p.bytes += n
	p.tick()
}

// fileDone counts one more file done.
func (p *progress) fileDone() {
	p.files++
	p.tick()
}

func (p *progress) tick() {
	if p.on && time.Since(p.last) >= time.Second {
		p.last = time.Now()
		p.print()
	}
}

func (p *progress) done() {
	if p.on {
		p.print()
	}
}

func (p *progress) print() {
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.bytes) / secs / 1e6
	}
	skipped := ""
	if p.skipped > 0 {
		skipped = fmt.Sprintf(", %d skipped", p.skipped)
	}
	fmt.Fprintf(p.a.stderr, "%s: %d/%d files%s, %s of %s, %.1f MB/s\n",
		p.what, p.files, p.totalFiles, skipped, human(p.bytes), human(p.totalBytes), rate)
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
