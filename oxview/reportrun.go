package main

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
)

// reportOptions are the flags of --report and --summary.
type reportOptions struct {
	report   string
	summary  bool
	json     bool
	by       []byField
	bySpecs  multiFlag
	errField string
	forDur   time.Duration
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// addReportFlags defines the --report and --summary flags on fs.
func addReportFlags(fs *flag.FlagSet) *reportOptions {
	ro := &reportOptions{}
	fs.StringVar(&ro.report, "report", "", "")
	fs.BoolVar(&ro.summary, "summary", false, "")
	fs.BoolVar(&ro.json, "json", false, "")
	fs.Var(&ro.bySpecs, "by", "")
	fs.StringVar(&ro.errField, "error-field", "exception", "")
	cli.DurationVar(fs, &ro.forDur, "for", 0, "")
	return ro
}

// active reports whether the command line asks for a report or a summary; the
// other flags of the family alone are a usage error (see check).
func (ro *reportOptions) active() bool {
	return ro.report != "" || ro.summary
}

// check validates the report flags with the rest of the command line; it is
// called whatever the mode, so --by without --report is refused, not ignored.
func (ro *reportOptions) check(o options, fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[strings.ReplaceAll(f.Name, "_", "-")] = true })
	if !ro.active() {
		for _, n := range []string{"json", "by", "error-field", "for"} {
			if set[n] {
				return usageError{fmt.Sprintf("--%s goes with --report or --summary", n)}
			}
		}
		return nil
	}
	if o.reconnect <= 0 {
		return usageError{"--reconnect-after must be positive"}
	}
	if ro.json && !ro.summary {
		return usageError{"--json goes with --summary (--summary --json)"}
	}
	if ro.report == "-" && ro.summary {
		return usageError{"--report - and --summary would both write to stdout: give --report a file name"}
	}
	if o.pretty || o.group {
		return usageError{"--report and --summary do not print events: drop -p/--pretty and --group"}
	}
	for _, s := range ro.bySpecs {
		f, ok := parseByField(s)
		if !ok {
			return usageError{fmt.Sprintf("--by %q: want FIELD or TYPE:FIELD, FIELD a dotted key such as response.status_code", s)}
		}
		ro.by = append(ro.by, f)
	}
	if _, ok := parseByField(ro.errField); !ok || strings.Contains(ro.errField, ":") {
		return usageError{fmt.Sprintf("--error-field %q: want a dotted key such as exception", ro.errField)}
	}
	if ro.forDur < 0 {
		return usageError{"--for must be positive"}
	}
	return nil
}

// runReport reads the input named by the command line (FILE arguments, the live
// stream, or stdin), counts it and writes the report and/or the summary.
func runReport(ctx context.Context, o options, ro *reportOptions, files []string, stdin io.Reader, stdout, stderr io.Writer) error {
	live := o.host != "" || (len(files) == 0 && isTerminal(stdin))
	switch {
	case live && len(files) > 0:
		return usageError{"give either -H (the live stream) or FILE arguments, not both"}
	case !live && o.typeName != "":
		return usageError{"-n/--type-name filters the live stream; it cannot filter files or stdin (add -H to read from oxd)"}
	case !live && ro.forDur > 0:
		return usageError{"--for bounds a live read (with -H); files and stdin are read to their end"}
	}
	s := newSummary(ro.errField, ro.by)
	var err error
	switch {
	case live:
		err = reportLive(ctx, o, ro, s, stderr)
	case len(files) > 0:
		err = readFiles(ctx, files, stdin, s)
	default:
		s.inputs = []string{"stdin"}
		err = readStream(ctx, "stdin", stdin, s)
	}
	if err != nil {
		return err
	}
	res := s.result()
	if ro.report != "" {
		if err := writeReportFile(ro.report, res, stdout); err != nil {
			return err
		}
	}
	if ro.summary {
		out := bufio.NewWriter(stdout)
		if ro.json {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			err = enc.Encode(res)
		} else {
			err = writeText(out, res)
		}
		if err == nil {
			err = out.Flush()
		}
		if err != nil {
			if isBrokenPipe(err) {
				return nil
			}
			return writeError{err}
		}
	}
	if res.Skipped.Count > 0 || len(res.Skipped.ReadErrors) > 0 {
		return fmt.Errorf("damaged input: %d range(s), %d bytes skipped, %d read error(s) (listed in the summary and report)",
			res.Skipped.Count, res.Skipped.Bytes, len(res.Skipped.ReadErrors))
	}
	return nil
}

// writeReportFile writes the HTML report to name ("-" for stdout).
func writeReportFile(name string, res *result, stdout io.Writer) error {
	if name == "-" {
		w := bufio.NewWriter(stdout)
		writeHTML(w, res)
		if err := w.Flush(); err != nil && !isBrokenPipe(err) {
			return writeError{err}
		}
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w := bufio.NewWriter(f)
	writeHTML(w, res)
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: write %s: %w", name, err)
	}
	return nil
}

// readStream counts the events of one log stream (plain, gzip or bzip2).
func readStream(ctx context.Context, name string, in io.Reader, s *summary) error {
	lr, err := ox.NewLogReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	src := &source{name: name, fr: newFrameReader(lr)}
	for i := 0; src.advance(s); i++ {
		if i&0xffff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		s.add(src.cur)
	}
	return nil
}

// openWeight is how much reading one folder's files at once may cost: a plain
// or gzip file weighs 1 (a 64 KiB buffer, gzip's 32 KiB window), a bzip2 file 4
// (its decoder holds a 900 KB block as 3.6 MB), so at most 16 files, or 4 bzip2
// ones, are open together.
const openWeight = 16

// readFiles counts the events of the files named ("-" is stdin). The files of
// one folder (oxd writes a day's types side by side) are read together, their
// events merged by time, so sub-events in request.db-*.log meet their parents in
// request-*.log; folders are read one after the other, in the order given.
func readFiles(ctx context.Context, names []string, stdin io.Reader, s *summary) error {
	weight := map[string]int{}
	for _, n := range names {
		if n == "-" {
			weight[n] = 1
			continue
		}
		if fi, err := os.Stat(n); err != nil {
			return fmt.Errorf("%w", err)
		} else if fi.IsDir() {
			return usageError{fmt.Sprintf("%s is a folder: give its files (%s/*)", n, filepath.Clean(n))}
		}
		weight[n] = fileWeight(n)
	}
	s.inputs = append([]string{}, names...)
	var groups [][]string
	var used []int
	dirOf := map[string]int{}
	for _, n := range names {
		d := filepath.Dir(n)
		if n == "-" {
			d = "\x00stdin"
		}
		i, ok := dirOf[d]
		if !ok || used[i]+weight[n] > openWeight {
			i = len(groups)
			dirOf[d] = i
			groups = append(groups, nil)
			used = append(used, 0)
		}
		groups[i] = append(groups[i], n)
		used[i] += weight[n]
	}
	for _, g := range groups {
		if err := readMerged(ctx, g, stdin, s); err != nil {
			return err
		}
	}
	return nil
}

// fileWeight is what reading the file costs in memory (see openWeight): 4 for
// bzip2, known by its first bytes, else 1.
func fileWeight(name string) int {
	f, err := os.Open(name)
	if err != nil {
		return 1 // the error shows when the file is read
	}
	defer f.Close()
	head := make([]byte, 3)
	if n, _ := io.ReadFull(f, head); n == 3 && string(head) == "BZh" {
		return 4
	}
	return 1
}

// readMerged reads the named files at once, their events merged by end time.
func readMerged(ctx context.Context, names []string, stdin io.Reader, s *summary) error {
	var srcs mergeHeap
	defer func() {
		for _, src := range srcs {
			src.close()
		}
	}()
	for i, n := range names {
		src := &source{name: n, seq: i}
		var r io.Reader = stdin
		if n != "-" {
			f, err := os.Open(n)
			if err != nil {
				return err
			}
			src.f, r = f, f
		} else {
			src.name = "stdin"
		}
		lr, err := ox.NewLogReader(r)
		if err != nil {
			s.readErrors = append(s.readErrors, fmt.Sprintf("%s: %v", src.name, err))
			src.close()
			continue
		}
		src.fr = newFrameReader(lr)
		if src.advance(s) {
			srcs = append(srcs, src)
		} else {
			src.close()
		}
	}
	heap.Init(&srcs)
	for i := 0; len(srcs) > 0; i++ {
		if i&0xffff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		src := srcs[0]
		s.add(src.cur)
		if src.advance(s) {
			heap.Fix(&srcs, 0)
		} else {
			src.close()
			heap.Pop(&srcs)
		}
	}
	return nil
}

// source is one input being read, with its next event.
type source struct {
	name string
	seq  int
	f    *os.File
	fr   *frameReader
	cur  []byte
	key  float64 // cur's end time (else start), -Inf without one
}

// advance loads the next event into cur, recording damaged ranges and read
// errors in s; false at the end.
func (src *source) advance(s *summary) bool {
	for {
		raw, sk, err := src.fr.next()
		switch {
		case sk != nil:
			s.skipped(src.name, *sk)
			continue
		case err == io.EOF:
			return false
		case err != nil:
			s.readErrors = append(s.readErrors, fmt.Sprintf("%s: reading at byte %d: %v", src.name, src.fr.offset, err))
			return false
		}
		src.cur = raw
		src.key = math.Inf(-1)
		eachField(raw, func(k, v []byte) bool {
			switch string(k) {
			case "end":
				if t, ok := timeOf(v); ok {
					src.key = t
					return false
				}
			case "start":
				if t, ok := timeOf(v); ok {
					src.key = t
				}
			}
			return true
		})
		return true
	}
}

func (src *source) close() {
	if src.f != nil {
		src.f.Close()
		src.f = nil
	}
}

// mergeHeap orders sources by the time of their next event, then by position.
type mergeHeap []*source

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return h[i].seq < h[j].seq
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// reportLive counts the events of a collector's stream until ctx ends or --for
// has passed.
func reportLive(ctx context.Context, o options, ro *reportOptions, s *summary, stderr io.Writer) error {
	addr, err := ox.ControlAddr(o.host)
	if err != nil {
		return usageError{err.Error()}
	}
	if ro.forDur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ro.forDur)
		defer cancel()
	}
	s.inputs = []string{"live stream of " + addr}
	return liveEvents(ctx, addr, o, stderr, func(typ string, data []byte) error {
		if n, err := ox.ValueLen(data); err != nil || n != len(data) || !isMapRaw(data) {
			s.skipped("live "+typ, skipRange{Offset: -1, Bytes: int64(len(data)), Reason: "event does not decode as a map"})
			return nil
		}
		s.add(data)
		return nil
	})
}

// isMapRaw reports whether raw starts a MessagePack map.
func isMapRaw(raw []byte) bool {
	return len(raw) > 0 && (raw[0]&0xf0 == 0x80 || raw[0] == 0xde || raw[0] == 0xdf)
}
