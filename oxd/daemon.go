package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/blueox/ox/internal/fwdlink"
)

// daemon wires oxd's parts together: collector -> loop -> (stream, forwarder, files),
// and the control server beside them.
type daemon struct {
	opts    options
	log     *slog.Logger
	now     func() time.Time
	tick    time.Duration
	events  chan batch // every source -> the collection loop; closed when all have stopped
	collect *collector
	stream  *publisher
	control *controlServer
	fwd     forwarder
	files   *fileWriter
	stats   *stats
	web     *web // --http (http.go); nil when off

	panicLog *rateLog // panics caught while serving a connection (guard.go)

	// the acknowledged link (--link), when on
	linkRecv *fwdlink.Receiver
	linkLn   net.Listener

	// ready, when set, receives the daemon once every port is bound (tests use it).
	ready    func(*daemon)
	shutdown context.CancelFunc
	notify   *notifier // systemd's notify socket (notify.go)
}

func newLogger(w io.Writer, verbose int) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case verbose >= 2:
		level = slog.LevelDebug
	case verbose == 1:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newDaemon(opts options, stdout io.Writer) (*daemon, error) {
	return &daemon{opts: opts, log: newLogger(stdout, opts.verbose), now: time.Now, tick: time.Second}, nil
}

// start binds every port and opens the log path; on error it releases what it took.
func (d *daemon) start() (err error) {
	var closers []func()
	defer func() {
		if err != nil {
			for _, c := range closers {
				c()
			}
		}
	}()
	d.stats = newStats()
	if d.opts.logPath != "" {
		if err = checkWritable("--log-path", d.opts.logPath); err != nil {
			return err
		}
		d.stats.hasFiles = true
		if d.files, err = newFileWriter(d.opts.logPath, d.opts.rotateHours, d.log); err != nil {
			return err
		}
		closers = append(closers, func() { d.files.Close() })
	}
	// At most 8 batches wait for the loop (see batchMax, batchMaxBytes).
	d.events = make(chan batch, 8)
	if d.collect, err = newCollector(d.opts.collect, d.events, d.opts.maxEventSize, d.opts.maxConns, d.log); err != nil {
		return fmt.Errorf("oxd: collect on %s: %w", d.opts.collect, err)
	}
	closers = append(closers, func() { d.collect.l.Close() })
	cl, err := net.Listen("tcp", d.opts.control)
	if err != nil {
		return fmt.Errorf("oxd: control on %s: %w", d.opts.control, err)
	}
	closers = append(closers, func() { cl.Close() })
	d.control = newControlServer(cl, d.log)
	d.panicLog = newRateLog(d.log, 10*time.Second)
	d.collect.onPanic, d.control.onPanic = d.notePanic, d.notePanic
	host, _, _ := net.SplitHostPort(d.opts.control)
	sl, err := listenStream(host, d.opts.streamPort)
	if err != nil {
		return fmt.Errorf("oxd: stream on %s: %w", host, err)
	}
	d.stream = newPublisher(sl, d.log)
	d.stream.onPanic = d.notePanic
	switch {
	case d.opts.spoolPath != "":
		if err = checkWritable("--spool-path", d.opts.spoolPath); err != nil {
			return err
		}
		sf, err := newSpoolForwarder(d.opts, d.log)
		if err != nil {
			return err
		}
		d.fwd = sf
		closers = append(closers, func() { sf.Close(context.Background()) })
	case d.opts.forward != "":
		d.fwd = newPushForwarder(d.opts.forward, int64(d.opts.forwardMB)<<20, d.log)
	}
	if d.opts.link != "" {
		if err = d.startLink(); err != nil {
			return err
		}
		closers = append(closers, func() { d.linkLn.Close() })
	}
	d.registerCommands()
	if err = d.startWeb(); err != nil {
		return err
	}
	return nil
}

func (d *daemon) registerCommands() {
	port := func(p int) controlHandler {
		return func(map[string]any) (map[string]any, func()) { return map[string]any{"port": p}, nil }
	}
	d.control.Handle("SOCK_STREAM", port(d.stream.Port()))
	d.control.Handle("SOCK_COLLECT", port(d.collect.Port()))
	d.control.Handle("STATUS", func(map[string]any) (map[string]any, func()) { return d.status(), nil })
	d.control.Handle("FORWARD", d.forwardCommand)
	d.control.Handle("SHUTDOWN", func(map[string]any) (map[string]any, func()) {
		return map[string]any{"ok": true}, func() {
			d.log.Info("SHUTDOWN received")
			d.shutdown()
		}
	})
}

// status is the STATUS reply: the original's keys, then oxd's counters.
func (d *daemon) status() map[string]any {
	s := d.stats.status()
	s["dropped"] = d.collect.Dropped()
	s["connections"] = d.collect.conns.Load()
	s["connections_refused"] = d.collect.refused.Load()
	s["connections_evicted"] = d.collect.track.evicted.Load()
	s["stream"] = d.stream.Stats()
	if d.fwd != nil {
		s["forward"] = d.fwd.Stats()
	}
	if d.linkRecv != nil {
		s["link"] = d.linkStatus()
	}
	return s
}

func (d *daemon) run(ctx context.Context) error {
	if err := d.start(); err != nil {
		return err
	}
	ctx, d.shutdown = context.WithCancel(ctx)
	defer d.shutdown()
	d.log.Info("oxd started", "collect", d.opts.collect, "control", d.opts.control,
		"stream_port", d.stream.Port(), "log_path", d.opts.logPath, "forward", d.opts.forward)

	go d.stream.Run()
	go d.control.Run()
	lp := &loop{in: d.events, now: d.now, tick: d.tick, files: d.files, stream: d.stream, fwd: d.fwd, stats: d.stats}
	d.notifyWatchdog(lp)
	loopDone := make(chan error, 1)
	go func() { loopDone <- lp.run() }()
	if d.web != nil {
		d.web.run()
		defer d.web.close()
	}
	if d.ready != nil {
		d.ready(d)
	}
	d.notifyReady(ctx)

	// Sources run until ctx ends and drain their connections; the link receiver
	// returns once no delivery is waiting on the loop.
	linkDone := make(chan error, 1)
	if d.linkRecv != nil {
		go func() { linkDone <- d.linkRecv.Serve(ctx, d.linkLn) }()
	} else {
		linkDone <- nil
	}
	d.collect.Run(ctx)
	if d.web != nil {
		d.web.draining()
	}
	if lerr := <-linkDone; lerr != nil {
		d.log.Warn("link: stopped", "err", lerr)
	}
	close(d.events)
	err := <-loopDone // every received event is written; files synced and closed
	d.log.Info("collection stopped; closing")

	// Subscribers get a second to take what is queued for them (a stuck one would
	// otherwise hold the exit); the forward queue gets 5 s, as the original lingered.
	streamCtx, cancelStream := context.WithTimeout(context.Background(), time.Second)
	d.stream.Close(streamCtx)
	cancelStream()
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d.fwd != nil {
		if ferr := d.fwd.Close(closeCtx); ferr != nil {
			d.log.Warn("forward: closing", "err", ferr)
		}
	}
	d.control.Close()
	if err != nil {
		return fmt.Errorf("oxd: closing files: %w", err)
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		d.log.Info("oxd stopped")
	}
	return nil
}
