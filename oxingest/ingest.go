package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
)

const usageText = `usage: oxingest [flags] TYPE          send stdin's lines as events TYPE
       oxingest [flags] -F [NAME:]PATH ...  follow files like tail -F

Each non-empty line becomes one event with body {"data": "<line>"}, surrounding
white space trimmed, in order. Lines that are not valid UTF-8 are sent byte for
byte as MessagePack bin data (oxview shows such data as base64).

oxingest never drops a line: when the collector is slow or away it reads more
slowly (up to --queue events wait in memory). At the end of stdin, or on SIGTERM
or SIGINT, it delivers every line read so far before it exits, waiting at most
--drain-timeout; what could not be delivered is counted in the error (exit 1).

Flags:
  -H, --host HOST[:PORT]  collection address (default $BLUEOX_HOST, else
                          127.0.0.1; port 3514)
  -F [NAME:]PATH          follow PATH (repeatable): start at its current end, read
                          what is appended, across rename rotation (the old file is
                          read to its end first), copy-and-truncate, and a file that
                          does not exist yet. The event type is NAME, or PATH's base
                          name up to its first dot (/var/log/mail.err -> mail).
  --state-file PATH       with -F: remember how far each file was delivered, by
                          device, inode and a fingerprint of its first bytes (not
                          by name), so a restart resumes without losing or
                          repeating lines. Without it a restart starts at the end.
  --poll DURATION         with -F: how often files are checked (default 250ms)
  --queue N               events waiting in memory at most (default 3500)
  --max-line BYTES        longer lines are sent as several events of at most this
                          size (default 4194304)
  --drain-timeout DURATION
                          longest wait to deliver what was read when input ends or
                          a signal comes (default 1m)

Flags with a '-' also answer to '_' (--drain_timeout); durations take Go
durations or seconds (--poll 0.5).

Exit status: 0 everything delivered, 1 an error or undelivered lines, 2 usage error.
`

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Usage marks e as a usage error for cli.IsUsage.
func (usageError) Usage() bool { return true }

type options struct {
	host         string
	follow       []followSpec
	stateFile    string
	poll         time.Duration
	queue        int
	maxLine      int
	drainTimeout time.Duration
	typ          string // stdin mode
}

// followSpec is one -F argument.
type followSpec struct {
	typ, path string
}

// followFlag collects repeated -F values.
type followFlag struct{ specs *[]followSpec }

func (f followFlag) String() string { return "" }

func (f followFlag) Set(v string) error {
	spec, err := parseFollow(v)
	if err != nil {
		return err
	}
	*f.specs = append(*f.specs, spec)
	return nil
}

// parseFollow reads "[name:]path". A colon belongs to the path when what is before
// it holds a '/' (./a:b is a path).
func parseFollow(v string) (followSpec, error) {
	var s followSpec
	if name, path, ok := strings.Cut(v, ":"); ok && !strings.Contains(name, "/") {
		if name == "" {
			return s, fmt.Errorf("%q: empty type name before ':'", v)
		}
		s.typ, s.path = name, path
	} else {
		s.path = v
		base := filepath.Base(v)
		s.typ, _, _ = strings.Cut(base, ".")
	}
	if s.path == "" {
		return s, fmt.Errorf("%q: empty path", v)
	}
	if err := ox.ValidTypeName(s.typ); err != nil {
		return s, fmt.Errorf("%q: type %q: %v (give one: -F name:path)", v, s.typ, err)
	}
	return s, nil
}

func parseOptions(args []string, stdout io.Writer) (options, error) {
	o := options{poll: 250 * time.Millisecond, queue: ox.DefaultQueueSize, maxLine: 4 << 20, drainTimeout: time.Minute}
	fs := flag.NewFlagSet("oxingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.host, "H", "", "")
	fs.StringVar(&o.host, "host", "", "")
	fs.Var(followFlag{&o.follow}, "F", "")
	fs.StringVar(&o.stateFile, "state-file", "", "")
	cli.DurationVar(fs, &o.poll, "poll", o.poll, "")
	fs.IntVar(&o.queue, "queue", o.queue, "")
	fs.IntVar(&o.maxLine, "max-line", o.maxLine, "")
	cli.DurationVar(fs, &o.drainTimeout, "drain-timeout", o.drainTimeout, "")
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return o, err
		}
		return o, usageError{err.Error()}
	}
	switch {
	case len(o.follow) > 0 && fs.NArg() > 0:
		return o, usageError{fmt.Sprintf("a type name (%q) and -F do not go together: with -F the type comes from -F name:path", fs.Arg(0))}
	case len(o.follow) == 0 && fs.NArg() == 0:
		return o, usageError{"give a TYPE for the lines of stdin, or -F to follow files"}
	case fs.NArg() > 1:
		return o, usageError{fmt.Sprintf("one TYPE only, got %q", fs.Args())}
	case len(o.follow) == 0 && o.stateFile != "":
		return o, usageError{"--state-file goes with -F"}
	case o.poll <= 0 || o.queue <= 0 || o.maxLine <= 0 || o.drainTimeout <= 0:
		return o, usageError{"--poll, --queue, --max-line and --drain-timeout must be positive"}
	}
	if fs.NArg() == 1 {
		o.typ = fs.Arg(0)
		if err := ox.ValidTypeName(o.typ); err != nil {
			return o, usageError{fmt.Sprintf("type %q: %v", o.typ, err)}
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stdout)
	if err != nil {
		return err
	}
	addr, err := ox.CollectAddr(o.host)
	if err != nil {
		return usageError{err.Error()}
	}
	warn := newWarner(stderr)
	// The wrong kind of port never becomes the right one: stop reading, give up
	// the sends, and exit with that one line (see wrongPort).
	ctx, stopWrong := context.WithCancelCause(ctx)
	defer stopWrong(nil)
	var wrong wrongPort
	sender := ox.NewSender(addr, &ox.SenderOptions{QueueSize: o.queue, OnError: func(err error) {
		if wrong.note(err) {
			stopWrong(err)
			return
		}
		warn.say(err.Error())
	}})

	// Sends may wait for room (backpressure) for as long as the collector is away,
	// until a signal: then what was read gets --drain-timeout to be delivered.
	sendCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	stopTimer := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(o.drainTimeout, giveUp)
		context.AfterFunc(sendCtx, func() { t.Stop() })
	})
	defer stopTimer()
	stopWrongSends := context.AfterFunc(ctx, func() {
		if wrong.get() != nil {
			giveUp()
		}
	})
	defer stopWrongSends()

	em := newEmitter(sender, sendCtx, o.maxLine, warn)
	var readErr error
	if len(o.follow) > 0 {
		readErr = follow(ctx, o, em, warn)
	} else {
		readErr = readLines(ctx, stdin, o.typ, em)
	}

	// Deliver what was read: the whole drain is bounded by --drain-timeout.
	drainCtx, cancel := context.WithTimeout(sendCtx, o.drainTimeout)
	defer cancel()
	closeErr := sender.Close(drainCtx)
	if em.afterClose != nil {
		em.afterClose(sender.Stats().Sent)
	}
	if err := wrong.get(); err != nil {
		return err
	}
	if readErr != nil && !errors.Is(readErr, context.Canceled) {
		return readErr
	}
	if closeErr != nil {
		return fmt.Errorf("deliver to %s: %w", addr, closeErr)
	}
	return nil
}

// readLines sends each non-empty line of r as an event typ, until r ends or ctx
// is done. What was read from r when ctx ends is still sent (a last line without
// its newline too); a read still waiting on r is abandoned.
func readLines(ctx context.Context, r io.Reader, typ string, em *emitter) error {
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk)
	free := make(chan []byte, 2)
	for range cap(free) {
		free <- make([]byte, 256<<10)
	}
	quit := make(chan struct{})
	defer close(quit)
	var inRead atomic.Bool // the reader waits on r
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-quit:
				return
			}
			inRead.Store(true)
			n, err := r.Read(buf)
			inRead.Store(false)
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var lb lineBuf
	for {
		var c chunk
		select {
		case c = <-chunks:
		case <-ctx.Done():
			var ok bool
			if c, ok = lastChunk(chunks, &inRead); !ok {
				return lb.flush(em, typ)
			}
			c.err = io.EOF
		}
		if err := lb.feed(em, typ, c.b); err != nil {
			return err
		}
		free <- c.b[:cap(c.b)]
		if c.err != nil {
			if err := lb.flush(em, typ); err != nil {
				return err
			}
			if c.err == io.EOF {
				return nil
			}
			return fmt.Errorf("read stdin: %w", c.err)
		}
	}
}

// lastChunk returns a chunk read from stdin but not handed over yet, if any: it
// waits for one unless the reader is waiting on stdin.
func lastChunk[C any](chunks <-chan C, inRead *atomic.Bool) (C, bool) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case c := <-chunks:
			return c, true
		case <-tick.C:
			if inRead.Load() {
				var zero C
				return zero, false
			}
		}
	}
}

// lineBuf splits a byte stream into lines, keeping a line not ended yet.
type lineBuf struct {
	partial []byte
	started bool // pieces of a very long partial line were sent already
}

// feed sends the complete lines in b, with what was kept before, and keeps the
// rest. end, when not nil, is called after each line with b's offset after it.
func (lb *lineBuf) feed(em *emitter, typ string, b []byte) error {
	return lb.feedAt(em, typ, b, nil)
}

func (lb *lineBuf) feedAt(em *emitter, typ string, b []byte, end func(n int)) error {
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lb.partial = append(lb.partial, b...)
			return lb.pieces(em, typ)
		}
		line := b[:i]
		if len(lb.partial) > 0 || lb.started {
			lb.partial = append(lb.partial, line...)
			line = lb.partial
		}
		if err := lb.endLine(em, typ, line); err != nil {
			return err
		}
		n += i + 1
		if end != nil {
			end(n)
		}
		b = b[i+1:]
	}
	return nil
}

// flush sends a last line that did not end with a newline.
func (lb *lineBuf) flush(em *emitter, typ string) error {
	if len(lb.partial) == 0 && !lb.started {
		return nil
	}
	return lb.endLine(em, typ, lb.partial)
}

// pieces sends a partial line longer than --max-line in pieces as it comes.
func (lb *lineBuf) pieces(em *emitter, typ string) error {
	if len(lb.partial) <= em.maxLine {
		return nil
	}
	p := lb.partial
	if !lb.started {
		p = bytes.TrimLeftFunc(p, unicode.IsSpace)
	}
	for len(p) > em.maxLine {
		em.warnLong()
		if err := em.send(typ, p[:em.maxLine]); err != nil {
			return err
		}
		lb.started = true
		p = p[em.maxLine:]
	}
	lb.partial = append(lb.partial[:0], p...)
	return nil
}

func (lb *lineBuf) endLine(em *emitter, typ string, line []byte) error {
	if lb.started {
		line = bytes.TrimRightFunc(line, unicode.IsSpace)
	} else {
		line = bytes.TrimSpace(line)
	}
	lb.started = false
	err := em.sendLine(typ, line)
	lb.partial = lb.partial[:0]
	return err
}

// emitter turns lines into events and hands them to the sender, in order.
type emitter struct {
	sender  *ox.Sender
	ctx     context.Context
	maxLine int
	warn    *warner

	host       string
	pid        int
	rng        *rand.ChaCha8
	meta       []byte
	data       []byte
	warnedLong bool

	seq        uint64 // events handed to the sender so far
	afterClose func(sent uint64)
}

func newEmitter(s *ox.Sender, ctx context.Context, maxLine int, warn *warner) *emitter {
	host, _ := os.Hostname()
	for len(host) > ox.MaxNameLen { // the meta frame holds 63 bytes
		_, size := utf8.DecodeLastRuneInString(host)
		host = host[:len(host)-size]
	}
	var seed [32]byte
	crand.Read(seed[:])
	return &emitter{sender: s, ctx: ctx, maxLine: maxLine, warn: warn, host: host, pid: os.Getpid(),
		rng: rand.NewChaCha8(seed)}
}

// sendLine sends a (trimmed) line: nothing when it is empty, several events when
// it is longer than --max-line.
func (e *emitter) sendLine(typ string, line []byte) error {
	for len(line) > e.maxLine {
		e.warnLong()
		if err := e.send(typ, line[:e.maxLine]); err != nil {
			return err
		}
		line = line[e.maxLine:]
	}
	if len(line) == 0 {
		return nil
	}
	return e.send(typ, line)
}

func (e *emitter) warnLong() {
	if !e.warnedLong {
		e.warnedLong = true
		e.warn.say(fmt.Sprintf("a line longer than %d bytes is sent as several events (--max-line)", e.maxLine))
	}
}

func (e *emitter) send(typ string, line []byte) error {
	now := time.Now()
	var data any
	if utf8.Valid(line) {
		data = string(line)
	} else {
		data = bytes.Clone(line)
	}
	rec := ox.Record{ID: e.newID(now), Type: typ, Host: e.host, PID: e.pid, Start: now, End: now,
		Body: map[string]any{"data": data}}
	var err error
	if e.data, err = ox.AppendRecord(e.data[:0], rec); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if e.meta, err = ox.AppendMeta(e.meta[:0], rec.Meta()); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := e.sender.Send(e.ctx, e.meta, e.data); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	e.seq++
	return nil
}

// newID makes a BlueOx event id: 4 bytes of Unix time, 12 random, in hex.
func (e *emitter) newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	binary.BigEndian.PutUint32(b[4:8], uint32(e.rng.Uint64()))
	binary.BigEndian.PutUint64(b[8:], e.rng.Uint64())
	return hex.EncodeToString(b[:])
}

// warner prints warnings to stderr, each distinct one at most every 10 s.
type warner struct {
	mu   sync.Mutex
	w    io.Writer
	last map[string]time.Time
}

func newWarner(w io.Writer) *warner { return &warner{w: w, last: map[string]time.Time{}} }

func (w *warner) say(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.last[msg]; ok && time.Since(t) < 10*time.Second {
		return
	}
	if len(w.last) > 100 {
		clear(w.last)
	}
	w.last[msg] = time.Now()
	fmt.Fprintln(w.w, "oxingest:", msg)
}
