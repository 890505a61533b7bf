package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk"
	"github.com/blueox/ox/internal/cli"
)

const usage = `usage: oxstash [options] [FILE...]
       oxstash [options] -H HOST [-n TYPE]
       oxstash [options] --replay DEAD-LETTER-FILE

Sends BlueOx events to Elasticsearch (or any store that accepts its bulk API).

Events come from the log FILEs (plain, .gz or .bz2; "-" is stdin), from stdin
when no FILE is given, or from a collector's live stream with -H (also the
default when stdin is a terminal). Each event becomes one document: the event's
fields (type kept as a field), "duration" = end - start in seconds and
"@timestamp" = the end time in UTC; it goes to the index <base>-YYYY.MM.DD of its
end time, or to the fixed index -i. Its _id is a hash of the event's bytes, so
shipping the same events again does not duplicate them.

Documents not delivered (no node answered) or rejected by the node are
appended to the dead-letter file, and reported on stderr as it happens (the
first at once, then at most every 10 s); --replay sends them again once the
cause is fixed. oxstash flushes on end of input and on SIGTERM or SIGINT,
prints a summary on stderr (inputs, events, then documents: indexed, not
delivered, rejected by the node), and exits 1 when any document failed or any
input was unreadable or bad, 2 on a usage error.

Every option also answers to the other separator (--index-name for
--index_name); durations take Go durations or seconds.

Options:
  -e, --elasticsearch NODE  a node: host:port, or a URL with scheme, path prefix
                            and query (repeatable or comma-separated;
                            default localhost:9200)
  -i, --index_name NAME     send every document to this index
  -p, --index_base BASE     index prefix for daily indexes (default blueox)
      --chunk_size N        documents per bulk request (default 500)
      --request_timeout T   timeout of one bulk request, as 10s or in seconds
                            (default 10s)
      --flush-interval T    send a partial batch this old (default 1s)
      --max-retries N       resends of a batch or of rejected items with status
                            429/502/503/504 before giving up (default 5)
  -H, --host HOST           collector control address host[:port] (default
                            $BLUEOX_CLIENT_HOST or 127.0.0.1, port 3513)
  -n, --type-name NAME      only events of this type, or of types starting with
                            NAME when it ends with '*'
  -d, --dead-letter FILE    where rejected documents go (default
                            oxstash-dead-letter.ndjson; "-" for stderr)
      --replay FILE         send the documents of a dead-letter file again
  -u, --user USER[:PASS]    basic auth (default env ELASTICSEARCH_USERNAME; the
                            password from env ELASTICSEARCH_PASSWORD if not given)
      --api-key KEY         API key, the base64 id:key (env ELASTICSEARCH_API_KEY)
      --ca-cert FILE        also trust the CA certificates (PEM) in FILE for
                            https nodes (Elasticsearch 8 makes its own CA)
  -q, --quiet               no summary unless something failed
  -h, --help                this help
`

// errHelp is returned after -h printed the usage: nothing failed.
var errHelp = flag.ErrHelp

// usageError is a command line oxstash cannot run with (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return "oxstash: " + e.msg }

// Usage marks e as a usage error for cli.IsUsage.
func (usageError) Usage() bool { return true }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type options struct {
	nodes          []string
	indexName      string
	indexBase      string
	chunkSize      int
	requestTimeout time.Duration
	flushInterval  time.Duration
	maxRetries     int
	host           string
	hostSet        bool
	live           bool // read oxd's stream
	typeName       string
	deadLetter     string
	replay         string
	user           string
	apiKey         string
	caCert         string
	quiet          bool
	files          []string
}

// nodeList collects -e values, splitting on commas.
type nodeList struct{ nodes *[]string }

func (n nodeList) String() string {
	if n.nodes == nil {
		return ""
	}
	return strings.Join(*n.nodes, ",")
}

func (n nodeList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			if _, err := esbulk.ParseNode(part); err != nil {
				return err
			}
			*n.nodes = append(*n.nodes, part)
		}
	}
	return nil
}

func parseOptions(args []string, stdout io.Writer) (*options, error) {
	o := &options{indexBase: "blueox", chunkSize: 500, requestTimeout: 10 * time.Second,
		flushInterval: time.Second, maxRetries: esbulk.DefaultMaxRetries,
		deadLetter: "oxstash-dead-letter.ndjson"}
	fs := flag.NewFlagSet("oxstash", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	both := func(short, long string, set func(name string)) { set(short); set(long) }
	both("e", "elasticsearch", func(n string) { fs.Var(nodeList{&o.nodes}, n, "") })
	both("i", "index_name", func(n string) { fs.StringVar(&o.indexName, n, o.indexName, "") })
	both("p", "index_base", func(n string) { fs.StringVar(&o.indexBase, n, o.indexBase, "") })
	fs.IntVar(&o.chunkSize, "chunk_size", o.chunkSize, "")
	cli.DurationVar(fs, &o.requestTimeout, "request_timeout", o.requestTimeout, "")
	cli.DurationVar(fs, &o.flushInterval, "flush-interval", o.flushInterval, "")
	fs.IntVar(&o.maxRetries, "max-retries", o.maxRetries, "")
	both("H", "host", func(n string) { fs.StringVar(&o.host, n, "", "") })
	both("n", "type-name", func(n string) { fs.StringVar(&o.typeName, n, "", "") })
	both("d", "dead-letter", func(n string) { fs.StringVar(&o.deadLetter, n, o.deadLetter, "") })
	fs.StringVar(&o.replay, "replay", "", "")
	both("u", "user", func(n string) { fs.StringVar(&o.user, n, "", "") })
	fs.StringVar(&o.apiKey, "api-key", "", "")
	fs.StringVar(&o.caCert, "ca-cert", "", "")
	both("q", "quiet", func(n string) { fs.BoolVar(&o.quiet, n, false, "") })
	cli.Conventions(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return nil, errHelp
		}
		return nil, usageError{err.Error()}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "H" || f.Name == "host" {
			o.hostSet = true
		}
	})
	o.files = fs.Args()

	if len(o.nodes) == 0 {
		o.nodes = []string{esbulk.DefaultNode}
	}
	if o.chunkSize < 1 {
		return nil, usagef("--chunk_size must be at least 1")
	}
	if o.requestTimeout <= 0 {
		return nil, usagef("--request_timeout must be positive")
	}
	if o.flushInterval <= 0 {
		return nil, usagef("--flush-interval must be positive")
	}
	if o.maxRetries < 0 {
		return nil, usagef("--max-retries must not be negative")
	}
	if o.indexName != "" {
		if err := validIndex(o.indexName); err != nil {
			return nil, usagef("--index_name: %v", err)
		}
	} else if err := validIndex(o.indexBase + "-2006.01.02"); err != nil {
		return nil, usagef("--index_base: %v", err)
	}
	if o.hostSet {
		if len(o.files) > 0 {
			return nil, usagef("-H reads the live stream; it cannot be combined with files")
		}
		addr, err := ox.ControlAddr(o.host)
		if err != nil {
			return nil, usagef("-H: %v", err)
		}
		o.host = addr
	}
	if strings.Contains(strings.TrimSuffix(o.typeName, "*"), "*") {
		return nil, usagef("-n: '*' is allowed only at the end")
	}
	if o.replay != "" {
		if o.hostSet || len(o.files) > 0 || o.typeName != "" {
			return nil, usagef("--replay sends a dead-letter file; it cannot be combined with -H, -n or files")
		}
		if o.deadLetter != "-" && sameFile(o.replay, o.deadLetter) {
			return nil, usagef("--replay %s is also the dead-letter file; move it aside first", o.replay)
		}
	}
	if o.user == "" {
		o.user = os.Getenv("ELASTICSEARCH_USERNAME")
	}
	if p := os.Getenv("ELASTICSEARCH_PASSWORD"); o.user != "" && p != "" && !strings.Contains(o.user, ":") {
		o.user += ":" + p // keeps the password out of the process list
	}
	if o.apiKey == "" {
		o.apiKey = os.Getenv("ELASTICSEARCH_API_KEY")
	}
	return o, nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// validIndex applies Elasticsearch's rules for index names, so that a typo is a
// usage error rather than every document in the dead-letter file.
func validIndex(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%q is not a valid index name", name)
	case len(name) > 255:
		return fmt.Errorf("index name longer than 255 bytes")
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Errorf("index name %q must not start with -, _ or +", name)
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return fmt.Errorf(`index name %q must not contain \ / * ? " < > | space , # :`, name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("index name %q must be lowercase", name)
	}
	return nil
}

// shipper reads events and hands documents to the bulk writer.
type shipper struct {
	opts   *options
	conv   converter
	w      *esbulk.Writer
	stdin  io.Reader
	stderr io.Writer
	addCtx context.Context // for Add: not cancelled by a signal
	read   atomic.Int64    // events read
	bad    atomic.Int64    // events or lines that could not become documents
	inputs atomic.Int64    // files, stdin, the live stream or the dead-letter file read
	badIn  atomic.Int64    // inputs that could not be read, or not to their end
}

// run is the whole command: main calls it under a context that a signal ends.
// It returns a usageError for a bad command line, errHelp after -h, and an error
// when any event or document was lost.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stdout)
	if err != nil {
		return err
	}
	// The source, the writer's failure callback and the summary all report here.
	stderr = &syncWriter{w: stderr}
	dl := &deadLetter{path: o.deadLetter, stderr: stderr, now: time.Now}
	cfg := esbulk.Config{
		Nodes:          o.nodes,
		APIKey:         o.apiKey,
		FlushDocs:      o.chunkSize,
		FlushInterval:  o.flushInterval,
		RequestTimeout: o.requestTimeout,
		MaxRetries:     o.maxRetries,
		OnFailure:      dl.add,
	}
	if o.maxRetries == 0 {
		cfg.MaxRetries = -1
	}
	if o.user != "" {
		cfg.Username, cfg.Password, _ = strings.Cut(o.user, ":")
	}
	if o.caCert != "" {
		if cfg.Client, err = clientTrusting(o.caCert); err != nil {
			return err
		}
	}
	if o.live = o.hostSet || (len(o.files) == 0 && o.replay == "" && isTerminal(stdin)); o.live && !o.hostSet {
		if o.host, err = ox.ControlAddr(""); err != nil {
			return usagef("%v", err)
		}
	}
	s := &shipper{opts: o, w: esbulk.NewWriter(cfg), stdin: stdin, stderr: stderr,
		conv: converter{indexName: o.indexName, indexBase: o.indexBase, now: time.Now}}

	began := time.Now()
	// The source runs on its own so that a signal is obeyed even while it is
	// blocked reading stdin. Documents are added with a context that a signal
	// does not cancel: a batch in flight is finished, not failed.
	s.addCtx = context.WithoutCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.source(ctx) }()
	var readErr error
	interrupted := false
	select {
	case readErr = <-done:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		// SIGTERM or SIGINT: stop reading, flush what was read.
		interrupted, readErr = true, nil
	}

	// Flush even when ctx ended: the writer's own retries bound how long it takes.
	closeErr := s.w.Close(context.WithoutCancel(ctx))
	dlErr := dl.close()
	elapsed := time.Since(began)

	st := s.w.Stats()
	res := outcome{inputs: s.inputs.Load(), badInputs: s.badIn.Load(), events: s.read.Load(), badEvents: s.bad.Load(),
		documents: st.Added, indexed: st.Indexed, elapsed: elapsed, interrupted: interrupted}
	dl.count(&res)
	what, failed := res.failed()
	if !o.quiet || failed || readErr != nil {
		res.summary(stderr, o.deadLetter)
	}
	switch {
	case readErr != nil:
		return readErr
	case dlErr != nil:
		return dlErr
	case failed:
		return fmt.Errorf("oxstash: %s", what)
	case closeErr != nil && !errors.Is(closeErr, esbulk.ErrClosed):
		return fmt.Errorf("oxstash: %w", closeErr)
	}
	return nil
}

// source reads the events (or dead letters) the options name until they end,
// ctx ends or the writer is closed.
func (s *shipper) source(ctx context.Context) error {
	o := s.opts
	switch {
	case o.replay != "":
		return s.replay(ctx, o.replay)
	case o.live:
		s.inputs.Add(1)
		return s.live(ctx)
	case len(o.files) == 0:
		return s.file(ctx, "stdin", s.stdin)
	}
	for _, name := range o.files {
		if err := s.open(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// clientTrusting returns an HTTP client that trusts the system's CAs and those in
// the PEM file.
func clientTrusting(pemFile string) (*http.Client, error) {
	b, err := os.ReadFile(pemFile)
	if err != nil {
		return nil, fmt.Errorf("oxstash: --ca-cert: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("oxstash: --ca-cert %s: no PEM certificate in it", pemFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// isTerminal reports whether r is a terminal (then there is no input to read).
func isTerminal(r io.Reader) bool {
	return cli.IsTerminal(r)
}

// match applies -n: an exact type, or a prefix when it ends with '*'.
func (s *shipper) match(typ string) bool {
	n := s.opts.typeName
	if n == "" {
		return true
	}
	if p, ok := strings.CutSuffix(n, "*"); ok {
		return strings.HasPrefix(typ, p)
	}
	return typ == n
}

func (s *shipper) open(ctx context.Context, name string) error {
	if name == "-" {
		return s.file(ctx, "stdin", s.stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		s.inputs.Add(1)
		s.badIn.Add(1) // an input error, not a document's
		fmt.Fprintf(s.stderr, "oxstash: %v\n", err)
		return nil // the other files still go
	}
	defer f.Close()
	return s.file(ctx, name, f)
}

// file ships the events of one log stream (plain, gzip or bzip2). A corrupt
// stream is reported and counted; its events before the damage are shipped.
func (s *shipper) file(ctx context.Context, name string, r io.Reader) error {
	s.inputs.Add(1)
	lr, err := ox.NewLogReader(r)
	if err != nil {
		s.badIn.Add(1)
		fmt.Fprintf(s.stderr, "oxstash: %s: %v\n", name, err)
		return nil
	}
	rd := ox.NewReader(cli.ContextReader(ctx, lr)) // SIGTERM stops even a huge event
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.badIn.Add(1) // damaged: the events before the damage were shipped
			fmt.Fprintf(s.stderr, "oxstash: %s: %v\n", name, err)
			return nil
		}
		if err := s.ship(ctx, data, "", func() string { return fmt.Sprintf("%s: offset %d", name, rd.Offset()) }); err != nil {
			return err
		}
	}
}

// ship converts one data frame and adds it to the writer. typ is the type the
// stream announced ("" for files, where the event's own type field decides).
func (s *shipper) ship(ctx context.Context, data []byte, typ string, where func() string) error {
	ev, err := s.conv.convert(data)
	if err != nil {
		s.read.Add(1)
		s.bad.Add(1)
		fmt.Fprintf(s.stderr, "oxstash: %s: event skipped: %v\n", where(), err)
		return nil
	}
	if typ == "" {
		typ = ev.typ
	}
	if !s.match(typ) {
		return nil
	}
	s.read.Add(1)
	if err := s.w.Add(s.addCtx, ev.doc); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("oxstash: %w", err)
	}
	return nil
}

// live ships the collector's stream until ctx ends. The stream reconnects by
// itself when the collector goes away; failures to reach it are reported, at
// most once per distinct message in a row.
func (s *shipper) live(ctx context.Context) error {
	prefix := strings.TrimSuffix(s.opts.typeName, "*")
	var last atomic.Value
	st := ox.Subscribe(ctx, s.opts.host, prefix, ox.StreamErrors(func(err error) {
		if msg := err.Error(); last.Swap(msg) != msg {
			fmt.Fprintf(s.stderr, "oxstash: %v (retrying)\n", err)
		}
	}))
	defer st.Close()
	for {
		typ, data, err := st.Next(ctx)
		if err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return ctx.Err()
			}
			var wrong *ox.WrongPortError
			if errors.As(err, &wrong) {
				return fmt.Errorf("oxstash: %w", err) // names both ports already
			}
			return fmt.Errorf("oxstash: stream: %w", err)
		}
		last.Store("")
		if err := s.ship(ctx, data, typ, func() string { return "stream " + typ }); err != nil {
			return err
		}
	}
}

// replay sends the documents of a dead-letter file again.
func (s *shipper) replay(ctx context.Context, path string) error {
	s.inputs.Add(1)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("oxstash: replay: %w", err)
	}
	defer f.Close()
	err = readDeadLetters(f, func(d esbulk.Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.read.Add(1)
		if s.opts.indexName != "" {
			d.Index = s.opts.indexName
		}
		if err := s.w.Add(s.addCtx, d); err != nil {
			if errors.Is(err, esbulk.ErrClosed) {
				return err
			}
			s.bad.Add(1)
			fmt.Fprintf(s.stderr, "oxstash: replay %s: %s: %v\n", path, d.ID, err)
		}
		return nil
	}, func(line int, err error) {
		s.bad.Add(1)
		fmt.Fprintf(s.stderr, "oxstash: replay %s: line %d: %v\n", path, line, err)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("oxstash: replay %s: %w", path, err)
	}
	return err
}
