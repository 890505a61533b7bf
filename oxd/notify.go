package main

// systemd's notify protocol (sd_notify(3)), spoken with the standard library so
// oxd can run as a Type=notify service with a watchdog: READY=1 once every port is
// bound and the log path is writable, a STATUS= line refreshed every few seconds,
// WATCHDOG=1 from the collection loop, STOPPING=1 when shutdown begins. Without
// $NOTIFY_SOCKET (not started by systemd) all of it is a no-op.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusEvery is how often the STATUS= line is refreshed.
const statusEvery = 5 * time.Second

// notifier sends state changes to the service manager: one datagram per message
// to the unixgram socket named by $NOTIFY_SOCKET (a path, or an abstract socket
// when it starts with '@'). The zero value and a nil notifier send nothing.
type notifier struct {
	conn     *net.UnixConn // nil: not under a service manager
	watchdog time.Duration // WATCHDOG=1 interval, half of $WATCHDOG_USEC; 0 for none
	log      *slog.Logger

	mu     sync.Mutex
	warned bool // a failed send has been logged once
}

// newNotifier connects to $NOTIFY_SOCKET as getenv reports it. It returns a
// notifier that sends nothing when the variable is unset, and an error when it is
// set but cannot be used (systemd would then wait in vain for READY=1).
func newNotifier(getenv func(string) string, log *slog.Logger) (*notifier, error) {
	n := &notifier{log: log}
	name := getenv("NOTIFY_SOCKET")
	if name == "" {
		return n, nil
	}
	if name[0] != '/' && name[0] != '@' {
		return nil, fmt.Errorf("oxd: NOTIFY_SOCKET=%q: want an absolute path or an abstract socket (@name)", name)
	}
	// On Linux the net package turns a leading '@' into the NUL byte that names
	// an abstract socket.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("oxd: NOTIFY_SOCKET: %w", err)
	}
	n.conn = conn
	n.watchdog = watchdogInterval(getenv, os.Getpid())
	return n, nil
}

// watchdogInterval returns half of $WATCHDOG_USEC, the interval sd_watchdog_enabled(3)
// recommends, or 0 when the watchdog is off or meant for another process
// ($WATCHDOG_PID).
func watchdogInterval(getenv func(string) string, pid int) time.Duration {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 {
		return 0
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// Send sends state, newline-separated VAR=value assignments, in one datagram.
// A failure is logged once; the service manager notices what it misses.
func (n *notifier) Send(state string) {
	if n == nil || n.conn == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.conn.Write([]byte(state)); err != nil && !n.warned {
		n.warned = true
		n.log.Warn("notify: cannot reach the service manager", "err", err)
	}
}

// Watchdog returns the pinger the collection loop feeds the watchdog with, or nil
// when there is no watchdog.
func (n *notifier) Watchdog() *watchdog {
	if n == nil || n.conn == nil || n.watchdog <= 0 {
		return nil
	}
	return &watchdog{n: n, t: time.NewTicker(n.watchdog)}
}

// watchdog is the collection loop's side of the service watchdog: the loop pings
// on each tick of C, between batches, so a loop wedged in a write stops the pings
// and the service manager restarts oxd. A nil watchdog never ticks.
type watchdog struct {
	n *notifier
	t *time.Ticker
}

// C returns the channel that ticks when a ping is due; nil (never ready) for a nil
// watchdog.
func (w *watchdog) C() <-chan time.Time {
	if w == nil {
		return nil
	}
	return w.t.C
}

// Ping tells the service manager the loop is alive.
func (w *watchdog) Ping() {
	if w != nil {
		w.n.Send("WATCHDOG=1")
	}
}

// Stop stops the ticker.
func (w *watchdog) Stop() {
	if w != nil {
		w.t.Stop()
	}
}

// notifyWatchdog connects to the service manager and gives the collection loop
// its watchdog, before the loop starts. A NOTIFY_SOCKET that cannot be used is
// logged; oxd still runs (the service manager reports the missing READY=1).
func (d *daemon) notifyWatchdog(lp *loop) {
	n, err := newNotifier(os.Getenv, d.log)
	if err != nil {
		d.log.Error("notify: " + err.Error())
		n = &notifier{log: d.log}
	}
	d.notify = n
	lp.watchdog = n.Watchdog()
}

// notifyReady sends READY=1 with the first STATUS= line (every port is bound and
// the log path was found writable by start), refreshes the STATUS= line every
// statusEvery, and sends STOPPING=1 when ctx ends.
func (d *daemon) notifyReady(ctx context.Context) {
	n := d.notify
	if n == nil || n.conn == nil {
		return
	}
	n.Send("READY=1\nSTATUS=" + d.statusLine())
	go func() {
		t := time.NewTicker(statusEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				n.Send("STATUS=" + d.statusLine())
			case <-ctx.Done():
				n.Send("STOPPING=1\nSTATUS=stopping: flushing files and queues; " + d.statusLine())
				return
			}
		}
	}()
}

// statusLine is the one-line summary systemctl status shows: events received,
// written to files, dropped (by the collector and the forwarder), and the spool
// or forward queue.
func (d *daemon) statusLine() string {
	d.stats.mu.Lock()
	received, written, writeErrs := d.stats.received, d.stats.writer.Written, d.stats.writer.WriteErrors
	d.stats.mu.Unlock()
	var dropped uint64
	for _, v := range d.collect.Dropped() {
		dropped += toUint(v)
	}
	parts := []string{
		"received " + strconv.FormatUint(received, 10),
		"written " + strconv.FormatUint(written, 10),
	}
	if d.fwd != nil {
		fs := d.fwd.Stats()
		dropped += toUint(fs["dropped"]) + toUint(fs["spool_dropped"])
		switch fs["mode"] {
		case "spool":
			parts = append(parts, fmt.Sprintf("spool %d unacked (%s)", toUint(fs["unacked"]), mib(toUint(fs["spool_bytes"]))))
		default:
			parts = append(parts, fmt.Sprintf("forward queue %d (%s)", toUint(fs["queued"]), mib(toUint(fs["queue_bytes"]))))
		}
	}
	parts = append(parts, "dropped "+strconv.FormatUint(dropped, 10))
	if writeErrs > 0 {
		parts = append(parts, "write errors "+strconv.FormatUint(writeErrs, 10))
	}
	return strings.Join(parts, ", ")
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
