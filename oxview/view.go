package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"syscall"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/evjson"
)

const usageText = `usage: oxview [flags] [FILE...]

Prints BlueOx events as JSON, one object per line.

Input is the live stream of a collector (oxd) when -H is given, else the log
FILEs ("-" is stdin), else stdin when it is not a terminal (when it is, the
live stream of the local collector). A log file is what oxd writes
(concatenated MessagePack maps), plain or compressed with gzip or bzip2
(recognised by its first bytes):

  oxview -H logs.example.com -n 'request*'
  oxview -p /var/log/blueox/20261124/request-20261124.log
  oxview -p < /var/log/blueox/20261124/request-20261124.log
  oxview --group < request-20261123.log.bz2

Flags:
  -H, --host HOST[:PORT]     collector control address (default $BLUEOX_CLIENT_HOST,
                             else 127.0.0.1; port 3513)
  -n, --type-name NAME       live stream only: show events of type NAME, or whose
                             type starts with NAME when it ends with '*'
  -p, --pretty               a blank line, a header line and indented JSON per event:
                             === <type> (<id[:12]>@<host>:<pid>)  (<duration>)
  --group                    collect events by id; print each group as one JSON list
                             when its top-level event (a type without '.') arrives,
                             that event last (at most 1000 groups wait at a time;
                             the oldest is printed incomplete to make room, and what
                             is still waiting at the end of the input is printed too)
  --reconnect-after DURATION ask the control port for the stream again after this
                             long without an event (default 30s)

Output that JSON cannot hold as is: invalid UTF-8 in a string becomes U+FFFD,
binary data that is not UTF-8 a base64 string, NaN and infinities the strings
"NaN", "Infinity", "-Infinity".

Reports (instead of printing events; the FILEs of one folder are read together,
merged by time, so sub-events meet their parents):

  oxview --report day.html /var/log/blueox/20261124/*.log
  oxstore cat request | oxview --summary --by response_status_code
  oxview -H logs.example.com --for 10m --summary --json

  --report FILE.html         write one self-contained HTML page (charts, tables)
  --summary                  print the same numbers as plain-text tables
  --json                     with --summary: print them as JSON
  --by [TYPE:]FIELD          count the values of a body field (dotted key such as
                             response.status_code; repeatable), with share and p90
  --error-field FIELD        the body field that marks an error (default exception)
  --for DURATION             live stream only: read this long, then report

Flags with a '-' also answer to '_' (--type_name); durations take Go
durations or seconds (--reconnect-after 10).

Exit status: 0 done, 1 unreadable or damaged input (everything before the damage
is printed first; with several FILEs the others are still read; a report skips
the damage, lists it and is written whole), 2 usage error.
`

type options struct {
	host      string
	typeName  string
	pretty    bool
	group     bool
	reconnect time.Duration
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Usage marks e as a usage error for cli.IsUsage.
func (usageError) Usage() bool { return true }

// maxPending is how many ids --group keeps waiting for their top-level event.
const maxPending = 1000

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("oxview", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.host, "H", "", "")
	fs.StringVar(&o.host, "host", "", "")
	fs.StringVar(&o.typeName, "n", "", "")
	fs.StringVar(&o.typeName, "type-name", "", "")
	fs.BoolVar(&o.pretty, "p", false, "")
	fs.BoolVar(&o.pretty, "pretty", false, "")
	fs.BoolVar(&o.group, "group", false, "")
	cli.DurationVar(fs, &o.reconnect, "reconnect-after", 30*time.Second, "")
	ro := addReportFlags(fs)
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return err
		}
		return usageError{err.Error()}
	}
	if err := ro.check(o, fs); err != nil {
		return err
	}
	if ro.active() {
		return runReport(ctx, o, ro, fs.Args(), stdin, stdout, stderr)
	}
	files := fs.Args()
	if len(files) > 0 && o.host != "" {
		return usageError{"-H reads the live stream; it cannot be combined with FILE arguments"}
	}
	if o.reconnect <= 0 {
		return usageError{"--reconnect-after must be positive"}
	}
	live := o.host != "" || (len(files) == 0 && isTerminal(stdin))
	if !live && o.typeName != "" {
		return usageError{"-n/--type-name filters the live stream; it cannot filter files or stdin (add -H to read from oxd)"}
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	p := &printer{w: out, pretty: o.pretty, ctx: ctx}
	if o.group {
		p.groups = newGrouper(maxPending)
	}
	var err error
	switch {
	case live:
		err = viewLive(ctx, o, p, stderr)
	case len(files) > 0:
		err = viewFiles(p, files, stdin, out, stderr)
	default:
		err = viewStream(p, "stdin", stdin, out)
	}
	if werr := p.finish(); werr != nil && err == nil {
		err = werr
	}
	if isBrokenPipe(err) {
		// The reader went away (oxview ... | head -1): nothing more to say.
		return nil
	}
	return err
}

// isTerminal reports whether r is a terminal (not a file, a pipe or /dev/null).
func isTerminal(r io.Reader) bool {
	return cli.IsTerminal(r)
}

func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)
}

// writeError marks a failure to write the output, which ends oxview at once.
type writeError struct{ err error }

func (e writeError) Error() string { return "write output: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// viewStream prints the events of a log stream read from in; name (a file
// name, or "stdin") starts its error messages. It stops at the next read once
// p.ctx ends (SIGTERM), however large the input.
func viewStream(p *printer, name string, in io.Reader, out *bufio.Writer) error {
	// Flush what is printed before waiting for more input, so a slow pipe
	// (tail -f file | oxview) shows each event as it comes.
	lr, err := ox.NewLogReader(flushingReader{r: in, w: out})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := ox.NewReader(cli.ContextReader(p.ctx, lr))
	n := 0
	for {
		raw, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if _, ok := err.(writeError); ok {
				return err
			}
			var ce *ox.CorruptError
			if errors.As(err, &ce) {
				return fmt.Errorf("%s: %w (after %d good events)", name, err, n)
			}
			return fmt.Errorf("%s: reading after %d good events (byte %d): %w", name, n, r.Offset(), err)
		}
		if err := p.load(raw); err != nil {
			return fmt.Errorf("%s: event at byte %d: %w (after %d good events)", name, r.Offset()-int64(len(raw)), err, n)
		}
		n++
		if err := p.event(); err != nil {
			return err
		}
	}
}

// flushingReader flushes w before each read of r.
type flushingReader struct {
	r io.Reader
	w *bufio.Writer
}

func (f flushingReader) Read(b []byte) (int, error) {
	if f.w.Buffered() > 0 {
		if err := f.w.Flush(); err != nil {
			return 0, writeError{err}
		}
	}
	return f.r.Read(b)
}

// viewLive prints the events of a collector's stream until ctx ends.
func viewLive(ctx context.Context, o options, p *printer, stderr io.Writer) error {
	addr, err := ox.ControlAddr(o.host)
	if err != nil {
		return usageError{err.Error()}
	}
	return liveEvents(ctx, addr, o, stderr, func(typ string, data []byte) error {
		if err := p.load(data); err != nil {
			fmt.Fprintf(stderr, "oxview: skipping a %s event that does not decode: %v\n", typ, err)
			return nil
		}
		if err := p.event(); err != nil {
			return err
		}
		if err := p.w.Flush(); err != nil {
			return writeError{err}
		}
		return nil
	})
}

// liveEvents subscribes to the stream of the collector at addr and calls each
// with every event that --type selects, until ctx ends (nil), the stream fails
// for good, or each returns an error (that error). Failures to reach the
// collector are retried, and reported on stderr once per kind of failure.
func liveEvents(ctx context.Context, addr string, o options, stderr io.Writer, each func(typ string, data []byte) error) error {
	prefix, exact := o.typeName, o.typeName != ""
	if strings.HasSuffix(prefix, "*") {
		prefix, exact = strings.TrimSuffix(prefix, "*"), false
	}
	lastErr := ""
	st := ox.Subscribe(ctx, addr, prefix, ox.StreamIdleTimeout(o.reconnect),
		ox.StreamErrors(func(err error) {
			// Retries go on by themselves; say so once per kind of failure.
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				fmt.Fprintf(stderr, "oxview: %v (retrying)\n", err)
			}
		}))
	defer st.Close()
	for {
		typ, data, err := st.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if exact && typ != o.typeName {
			continue
		}
		if err := each(typ, data); err != nil {
			return err
		}
	}
}

// printer writes events in the chosen output form.
type printer struct {
	ctx    context.Context // reading stops once it ends
	w      *bufio.Writer
	pretty bool
	groups *grouper // nil without --group
	tr     evjson.Transcoder
	buf    []byte
}

// load reads one event (raw MessagePack) for event to print; an error means
// it does not decode.
func (p *printer) load(raw []byte) error {
	if err := p.tr.Load(raw); err != nil {
		return err
	}
	if !p.tr.IsMap() {
		return errors.New("not a map")
	}
	return nil
}

// event prints the loaded event, or holds it for its group.
func (p *printer) event() error {
	if p.groups == nil {
		b := p.appendEvent(p.buf[:0])
		if !p.pretty {
			b = append(b, '\n')
		}
		p.buf = b
		return p.write(b)
	}
	id, hasID := evjson.Text(p.tr.Field("id"))
	typ, _ := evjson.Text(p.tr.Field("type"))
	ev := groupEvent{id: string(id), hasID: hasID, typ: string(typ), out: p.appendEvent(nil)}
	for _, g := range p.groups.add(ev) {
		if err := p.printGroup(g); err != nil {
			return err
		}
	}
	return nil
}

// appendEvent appends the loaded event as printed alone or in a group: with
// --pretty a blank line, the header line and indented JSON, else compact JSON
// without a line end.
func (p *printer) appendEvent(b []byte) []byte {
	if !p.pretty {
		return p.tr.Append(b, evjson.Options{})
	}
	m := map[string]any{}
	for _, k := range []string{"id", "type", "host", "pid", "start", "end"} {
		if f := p.tr.Field(k); f != nil {
			m[k], _ = ox.Decode(f)
		}
	}
	b = append(b, '\n')
	b = append(b, header(m)...)
	b = append(b, '\n')
	b = p.tr.Append(b, evjson.Options{Indent: "  "})
	return append(b, '\n')
}

// finish prints the groups still waiting and flushes the output.
func (p *printer) finish() error {
	if p.groups != nil {
		for _, g := range p.groups.drain() {
			if err := p.printGroup(g); err != nil {
				return err
			}
		}
	}
	if err := p.w.Flush(); err != nil {
		return writeError{err}
	}
	return nil
}

// printGroup writes a group: with --pretty its events one after the other,
// else as one JSON list on a line.
func (p *printer) printGroup(evs []groupEvent) error {
	b := p.buf[:0]
	if !p.pretty {
		b = append(b, '[')
	}
	for i, ev := range evs {
		if i > 0 && !p.pretty {
			b = append(b, ',')
		}
		b = append(b, ev.out...)
	}
	if !p.pretty {
		b = append(b, "]\n"...)
	}
	p.buf = b
	return p.write(b)
}

func (p *printer) write(b []byte) error {
	if _, err := p.w.Write(b); err != nil {
		return writeError{err}
	}
	return nil
}

// header is the --pretty header line of an event:
// "=== <type> (<first 12 of id>@<host>:<pid>)  (<duration>)".
func header(m map[string]any) string {
	id := []rune(text(m["id"]))
	if len(id) > 12 {
		id = id[:12]
	}
	pid := "?"
	switch n := m["pid"].(type) {
	case int64, uint64:
		pid = fmt.Sprint(n)
	case float64:
		pid = fmt.Sprint(int64(n))
	}
	return fmt.Sprintf("=== %s (%s@%s:%s)  (%s)", text(m["type"]), string(id), text(m["host"]), pid,
		duration(m["start"], m["end"]))
}

// duration formats end - start as the original did: "<n> ms" (rounded) under two
// seconds, else "<x.x> s".
func duration(start, end any) string {
	s, ok1 := number(start)
	e, ok2 := number(end)
	if !ok1 || !ok2 {
		return "? ms"
	}
	d := e - s
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return "? ms"
	}
	if d < 2 {
		return fmt.Sprintf("%d ms", int64(math.Round(d*1000)))
	}
	return fmt.Sprintf("%.1f s", d)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// text returns a string or bin field for a header line, without control characters.
func text(v any) string {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case []byte:
		s = string(t)
	case nil:
		return ""
	default:
		s = fmt.Sprint(t)
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
