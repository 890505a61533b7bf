package main

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/blueox/ox/internal/evjson"
)

// DefaultHTTP is where oxd serves /metrics, /healthz, /readyz, /status and the live
// page unless --http says otherwise; loopback, so nothing is exposed by default.
const DefaultHTTP = "127.0.0.1:3516"

//go:embed page.html
var pageHTML []byte

// web is oxd's HTTP server: Prometheus metrics, health and readiness, STATUS as
// JSON and a live page. It only reads what the rest of oxd counts.
type web struct {
	d     *daemon
	ln    net.Listener
	srv   *http.Server
	types *typeSet

	every  time.Duration // sampling interval of the live page's history
	keep   int           // samples kept
	bound  atomic.Bool   // every port bound and collection running
	stop   chan struct{}
	doneWG sync.WaitGroup

	mu      sync.Mutex
	ring    []sample // the last keep samples, oldest first
	health  healthState
	started time.Time
}

// sample is one second of the live page's history.
type sample struct {
	t     time.Time
	types []typeSample
	acc   accounting
}

// healthState is what readiness remembers between samples.
type healthState struct {
	lastFileErrors, lastFileWritten uint64
	filesFailing                    bool
	lastDiskErrors, lastAppended    uint64
	spoolFailing                    bool
	lastConnected                   time.Time // a forward target was last connected
}

// startWeb binds --http. A failure is fatal when --http was given; when oxd uses the
// default address and finds it taken, it says so and runs without HTTP, so a second
// oxd on a host still collects.
func (d *daemon) startWeb() error {
	if d.opts.httpAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", d.opts.httpAddr)
	if err != nil {
		if !d.opts.httpSet && errors.Is(err, syscall.EADDRINUSE) {
			d.log.Warn("http: default address in use; running without /metrics (set --http)", "addr", d.opts.httpAddr)
			return nil
		}
		return fmt.Errorf("oxd: http on %s: %w", d.opts.httpAddr, err)
	}
	w := &web{d: d, ln: ln, types: newTypeSet(max(d.opts.metricsTypes, 1)), every: time.Second, keep: 600,
		stop: make(chan struct{}), started: time.Now()}
	w.health.lastConnected = w.started
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", w.handleMetrics)
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") })
	mux.HandleFunc("GET /readyz", w.handleReady)
	mux.HandleFunc("GET /status", w.handleStatus)
	mux.HandleFunc("GET /api/watch", w.handleWatch)
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		rw.Write(pageHTML)
	})
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	d.web = w
	return nil
}

// Addr is the bound HTTP address.
func (w *web) Addr() string { return w.ln.Addr().String() }

// run serves and samples until close; oxd calls it once every port is bound.
func (w *web) run() {
	w.bound.Store(true)
	w.take(time.Now())
	w.doneWG.Add(2)
	go func() {
		defer w.doneWG.Done()
		if err := w.srv.Serve(w.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.d.log.Warn("http: stopped", "err", err)
		}
	}()
	go func() {
		defer w.doneWG.Done()
		t := time.NewTicker(w.every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case now := <-t.C:
				w.take(now)
			}
		}
	}()
}

// draining marks oxd not ready: collection has stopped.
func (w *web) draining() { w.bound.Store(false) }

func (w *web) close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	w.srv.Close()
	w.doneWG.Wait()
}

// take records a sample for the live page and updates what readiness remembers.
func (w *web) take(now time.Time) {
	st := w.d.status()
	counts, untracked := w.d.stats.snapshotCounts()
	s := sample{t: now, types: w.types.split(counts, untracked), acc: w.d.account(st)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ring) >= w.keep {
		copy(w.ring, w.ring[1:])
		w.ring = w.ring[:len(w.ring)-1]
	}
	w.ring = append(w.ring, s)
	h := &w.health
	if w.d.files != nil {
		w.d.stats.mu.Lock()
		errs, written := w.d.stats.writer.WriteErrors, w.d.stats.writer.Written
		w.d.stats.mu.Unlock()
		switch {
		case errs > h.lastFileErrors:
			h.filesFailing = true
		case written > h.lastFileWritten:
			h.filesFailing = false
		}
		h.lastFileErrors, h.lastFileWritten = errs, written
	}
	if sf, ok := w.d.fwd.(*spoolForwarder); ok {
		sp := sf.sp.Stats()
		switch {
		case sp.DiskErrors > h.lastDiskErrors:
			h.spoolFailing = true
		case sp.Appended > h.lastAppended:
			h.spoolFailing = false
		}
		h.lastDiskErrors, h.lastAppended = sp.DiskErrors, sp.Appended
	}
	if fw, ok := st["forward"].(map[string]any); ok && fw["connected"] == true {
		h.lastConnected = now
	}
}

// readiness returns why oxd is not ready, or nothing. It reads the last sample's
// view of writes (errors since the last success) and the current spool and link.
// st is a STATUS reply, nil to take one.
func (w *web) readiness(st map[string]any) []string {
	var why []string
	if !w.bound.Load() {
		why = append(why, "not collecting: ports not bound or shutting down")
	}
	if st == nil {
		st = w.d.status()
	}
	w.mu.Lock()
	h := w.health
	w.mu.Unlock()
	if h.filesFailing {
		why = append(why, fmt.Sprintf("log file writes are failing (%d write errors so far)", h.lastFileErrors))
	}
	if h.spoolFailing {
		why = append(why, "spool writes are failing")
	}
	if fw, ok := st["forward"].(map[string]any); ok {
		if limit := toUint(fw["spool_max_bytes"]); limit > 0 {
			if b := toUint(fw["spool_bytes"]); float64(b) >= 0.9*float64(limit) {
				why = append(why, fmt.Sprintf("spool at %.0f%% of its limit (%d of %d bytes)", 100*float64(b)/float64(limit), b, limit))
			}
		}
		if fw["connected"] != true && time.Since(h.lastConnected) > w.d.opts.failover {
			why = append(why, fmt.Sprintf("no forward target reachable for %s (--failover-after %s)",
				time.Since(h.lastConnected).Round(time.Second), w.d.opts.failover))
		}
	}
	return why
}

func (w *web) handleMetrics(rw http.ResponseWriter, _ *http.Request) {
	p := newPromText()
	w.writeMetrics(p)
	rw.Header().Set("Content-Type", promContentType)
	rw.Write(p.b)
}

func (w *web) handleReady(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	why := w.readiness(nil)
	if len(why) == 0 {
		fmt.Fprintln(rw, "ready")
		return
	}
	rw.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(rw, strings.Join(why, "\n"))
}

func (w *web) handleStatus(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Write(append(evjson.AppendIndent(nil, w.d.status(), "  "), '\n'))
}

// handleWatch is the live page's data: per-type rates over the kept samples, and the
// current status without its per-type and per-host maps.
func (w *web) handleWatch(rw http.ResponseWriter, _ *http.Request) {
	st := w.d.status()
	delete(st, "events")
	delete(st, "hosts")
	w.mu.Lock()
	ring := append([]sample(nil), w.ring...)
	w.mu.Unlock()
	times := make([]any, 0, len(ring))
	rates := map[string]any{}
	var names []string
	if n := len(ring); n > 0 {
		for _, ts := range ring[n-1].types {
			names = append(names, ts.name)
		}
	}
	series := map[string][]any{}
	received, dropped := make([]any, 0, len(ring)), make([]any, 0, len(ring))
	for i := 1; i < len(ring); i++ {
		prev, cur := ring[i-1], ring[i]
		dt := cur.t.Sub(prev.t).Seconds()
		if dt <= 0 {
			continue
		}
		times = append(times, float64(cur.t.UnixMilli())/1e3)
		was := map[string]uint64{}
		for _, ts := range prev.types {
			was[ts.name] = ts.events
		}
		now := map[string]uint64{}
		for _, ts := range cur.types {
			now[ts.name] = ts.events
		}
		for _, name := range names {
			r := 0.0
			if w, ok := was[name]; ok && now[name] >= w { // a type new in the set has no rate yet
				r = float64(now[name]-w) / dt
			}
			series[name] = append(series[name], r)
		}
		received = append(received, float64(cur.acc.received-min(prev.acc.received, cur.acc.received))/dt)
		dropped = append(dropped, float64(sumDrops(cur.acc)-min(sumDrops(prev.acc), sumDrops(cur.acc)))/dt)
	}
	for name, s := range series {
		rates[name] = s
	}
	var acc map[string]any
	if n := len(ring); n > 0 {
		a := ring[n-1].acc
		drops := map[string]any{}
		for _, dr := range a.drops {
			drops[dr.stage+"/"+dr.reason] = dr.n
		}
		acc = map[string]any{"received": a.received, "accepted": a.accepted, "written": a.written,
			"forwarded": a.forwarded, "forward_queued": a.forwardQueued, "dropped": drops}
	}
	ready := w.readiness(st)
	whyNot := make([]any, len(ready))
	for i, s := range ready {
		whyNot[i] = s
	}
	out := map[string]any{
		"now":        float64(time.Now().UnixMilli()) / 1e3,
		"interval":   w.every.Seconds(),
		"times":      times,
		"rates":      rates,
		"received":   received,
		"dropped":    dropped,
		"accounting": acc,
		"status":     st,
		"ready":      len(ready) == 0,
		"not_ready":  whyNot,
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Write(evjson.Append(nil, out))
}

func sumDrops(a accounting) uint64 {
	var n uint64
	for _, dr := range a.drops {
		n += dr.n
	}
	return n
}
