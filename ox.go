// Package ox records application events and sends them to a BlueOx collector
// (oxd), wire-compatible with the original Python BlueOx.
//
// An event is a named bag of data with a start and an end, opened on a
// context.Context and finished with Done:
//
//	ctx, ev := ox.Start(ctx, "request")
//	defer ev.Done()
//	ev.Set("user_agent", r.UserAgent())
//	defer ox.Timeit(ctx, "request_time")()
//	ox.Set(ctx, "response.status", 200) // dotted keys nest
//
// Events started inside another event's context become its sub-events: ".db"
// inside "request" is sent as "request.db" with the request's id, so that tools
// can join them. The naming and sampling rules are those of the original
// (PROTOCOL.md §3-5), with the context.Context chain playing the role of the
// original's per-thread stack: pass ctx along, also to goroutines, and their
// events land in the right place.
//
// Nothing is recorded until the package is configured: Configure or
// DefaultConfigure send finished events to a collector through a Sender (a
// bounded queue and a background goroutine; the caller never waits on the
// network), SetRecorder hands them to a function instead (for tests). Until then
// every call is a cheap no-op, so libraries may record events unconditionally.
// Call Shutdown before exiting to flush the queue.
//
// Problems (an invalid event name, a full queue, a lost connection) never panic
// and never reach the caller: they are counted (ReadStats) and reported to the
// function given to SetErrorHandler, or else logged through log/slog at most
// once a second.
//
// NewLogHandler, Middleware and Transport connect log/slog, net/http servers and
// net/http clients.
package ox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// config is what Configure, SetRecorder and Shutdown switch between. It is never
// modified once published.
type config struct {
	sender   *Sender
	recorder func(Record)
	host     string
	pid      int
	coin     func() float64 // sampling's random source; nil means math/rand/v2
	metaHead []byte         // the first 73 bytes of every meta frame: version, end (zero), host
	hostPID  []byte         // the data frame's host and pid, keys and values (appendHostPID)
}

// newConfig returns a configuration for this process, sending through s or
// recording to f.
func newConfig(s *Sender, f func(Record)) *config {
	c := &config{sender: s, recorder: f, host: localHost, pid: os.Getpid()}
	c.metaHead, _ = AppendMeta(nil, Meta{Host: c.host})
	c.metaHead = c.metaHead[:9+1+MaxNameLen]
	c.hostPID = appendHostPID(nil, c.host, c.pid)
	return c
}

// The package's switchable state. The event API is package-level by design (like
// log/slog's default logger): an application configures it once in main.
var (
	current      atomic.Pointer[config]
	errorHandler atomic.Pointer[func(error)]
	lastLogged   atomic.Int64 // unix nanoseconds of the last error logged by default
	counters     struct {
		errors, invalidNames atomic.Uint64
	}
	localHost = hostName()
)

// Configure sends finished events to the collector at addr ("host" or
// "host:port"; the port defaults to 3514; "" means DefaultConfigure's address)
// through a new Sender with the default queue. It replaces any earlier
// configuration; an earlier Sender is flushed in the background for up to 2 s.
func Configure(addr string) error {
	a, err := CollectAddr(addr)
	if err != nil {
		return fmt.Errorf("ox: configure: %w", err)
	}
	ConfigureSender(NewSender(a, &SenderOptions{OnError: reportError}))
	return nil
}

// DefaultConfigure configures the collector named by $BLUEOX_HOST, or
// 127.0.0.1:3514.
func DefaultConfigure() error {
	return Configure("")
}

// ConfigureSender sends finished events through s, a Sender made by the
// caller (to choose its queue size, for example). Shutdown closes it.
func ConfigureSender(s *Sender) {
	swap(newConfig(s, nil))
}

// SetRecorder hands every finished event to f, in the goroutine that calls Done,
// instead of sending it: for tests and in-process consumers. f owns the Record. A
// nil f makes the package unconfigured again.
func SetRecorder(f func(Record)) {
	if f == nil {
		swap(nil)
		return
	}
	swap(newConfig(nil, f))
}

// Shutdown makes the package unconfigured and flushes the queue of the Sender it
// was using until everything is sent or ctx ends. The error says how many events
// were lost. Events finished after Shutdown are not recorded.
func Shutdown(ctx context.Context) error {
	old := current.Swap(nil)
	if old == nil || old.sender == nil {
		return nil
	}
	return old.sender.Close(ctx)
}

func swap(c *config) {
	old := current.Swap(c)
	if old != nil && old.sender != nil && (c == nil || old.sender != c.sender) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := old.sender.Close(ctx); err != nil {
				reportError(err)
			}
		}()
	}
}

// SetErrorHandler makes f hear about every problem the package meets: invalid
// event names, values that cannot be recorded, dropped events, connection
// failures. f may be called from any goroutine and must not block. nil restores
// the default: a log/slog warning at most once a second.
func SetErrorHandler(f func(error)) {
	if f == nil {
		errorHandler.Store(nil)
		return
	}
	errorHandler.Store(&f)
}

// Stats counts what happened to events since the program started.
type Stats struct {
	Errors       uint64      // problems reported, all kinds
	InvalidNames uint64      // events not recorded because their name was invalid
	Sender       SenderStats // the configured Sender's counters (zero when none)
}

// ReadStats returns the package's counters and those of the configured Sender.
func ReadStats() Stats {
	st := Stats{Errors: counters.errors.Load(), InvalidNames: counters.invalidNames.Load()}
	if c := current.Load(); c != nil && c.sender != nil {
		st.Sender = c.sender.Stats()
	}
	return st
}

// internalKey marks the context of ox's own log records, so that a LogHandler
// installed as the default handler does not record them back into ox.
type internalKey struct{}

var internalCtx = context.WithValue(context.Background(), internalKey{}, true)

func reportError(err error) {
	counters.errors.Add(1)
	if h := errorHandler.Load(); h != nil {
		(*h)(err)
		return
	}
	now := time.Now().UnixNano()
	last := lastLogged.Load()
	if now-last < int64(time.Second) || !lastLogged.CompareAndSwap(last, now) {
		return
	}
	slog.Default().Log(internalCtx, slog.LevelWarn, err.Error(), "logger", "ox")
}

// hostName is the host the meta frame carries: os.Hostname, cut to its first
// label if it does not fit the frame's 63 bytes.
func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if len(h) > MaxNameLen {
		if i := strings.IndexByte(h, '.'); i > 0 {
			h = h[:i]
		}
	}
	if len(h) > MaxNameLen {
		h = h[:MaxNameLen]
	}
	return h
}
