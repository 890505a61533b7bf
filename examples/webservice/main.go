// Command webservice is a small web service that records BlueOx events with the
// ox library: one event per request (ox.Middleware), log lines as ".log"
// sub-events (ox.NewLogHandler), a ".db" sub-event, and an outgoing HTTP call as
// a ".httpclient" sub-event (ox.Transport).
//
// Try it against a local collector:
//
//	go run ./oxd --log-path ./logs &
//	go run ./examples/webservice &
//	curl localhost:8080/hello/ada
//	go run ./oxview -H 127.0.0.1 --pretty     # or: cat logs/*/request-*.log | go run ./oxview -p
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/blueox/ox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webservice:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

type options struct {
	listen  string // address to serve HTTP on
	collect string // collector (oxd) collection address
	name    string // the request event's name
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: webservice [-l addr] [-H host[:port]] [-n name]

A demo web service recording BlueOx events: GET /hello/{name}.

`)
		fs.PrintDefaults()
	}
	for _, n := range []string{"l", "listen"} {
		fs.StringVar(&o.listen, n, "127.0.0.1:8080", "`address` to serve HTTP on")
	}
	for _, n := range []string{"H", "host"} {
		fs.StringVar(&o.collect, n, "", "collector `host[:port]` (default $BLUEOX_HOST, else 127.0.0.1:3514)")
	}
	for _, n := range []string{"n", "name"} {
		fs.StringVar(&o.name, n, "request", "event `name` of each request")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if err := ox.Configure(opts.collect); err != nil {
		return usageError{err}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ox.Shutdown(ctx); err != nil {
			fmt.Fprintln(stderr, "webservice:", err)
		}
	}()

	l, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger := slog.New(ox.NewLogHandler(slog.NewTextHandler(stderr, nil), nil)).With("logger", "webservice")
	s := &service{
		log:    logger,
		client: &http.Client{Transport: ox.Transport(nil), Timeout: 5 * time.Second},
		self:   "http://" + l.Addr().String(),
	}
	srv := &http.Server{
		Handler:           ox.Middleware(s.routes(), &ox.MiddlewareOptions{Name: opts.name, Version: "demo"}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

type service struct {
	log    *slog.Logger
	client *http.Client
	self   string // this server's URL, for the outgoing call
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", s.hello)
	mux.HandleFunc("GET /quote", s.quote)
	return mux
}

// hello greets, after a pretend database query and a call to /quote.
func (s *service) hello(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	ox.Set(ctx, "user", name)

	visits := s.lookup(ctx, name)
	quote, err := s.fetchQuote(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "quote failed", "err", err)
		quote = "(no quote)"
	}
	s.log.InfoContext(ctx, "greeted", "visits", visits)
	fmt.Fprintf(w, "hello, %s (visit %d): %s\n", name, visits, quote)
}

// lookup stands for a database query: a ".db" sub-event of the request.
func (s *service) lookup(ctx context.Context, name string) int {
	ctx, ev := ox.Start(ctx, ".db")
	defer ev.Done()
	defer ox.Timeit(ctx, "query_time")()
	ox.Set(ctx, "query", "select visits from users where name = ?")
	time.Sleep(2 * time.Millisecond)
	ox.Set(ctx, "row_count", 1)
	return len(name) // a stable, made-up answer
}

// fetchQuote calls this same server; ox.Transport records it as ".httpclient".
func (s *service) fetchQuote(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.self+"/quote", nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (s *service) quote(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "Babe the Blue Ox was seven axe handles wide.")
}
