package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blueox/ox/internal/fwdlink"
	"github.com/blueox/ox/internal/spool"
)

// spoolForwarder is spooled, acknowledged forwarding (--spool-path): every event is
// appended to an on-disk spool, and a fwdlink.Forwarder sends the spool to the first
// reachable target, deleting segments only once the receiver has acknowledged them.
// See docs/forwarding.md.
type spoolForwarder struct {
	sp      *spool.Spool
	fw      *fwdlink.Forwarder
	path    string
	maxB    int64
	cancel  context.CancelFunc
	done    chan struct{}
	refused atomic.Uint64 // events the spool could not take (disk errors)
}

func newSpoolForwarder(o options, log *slog.Logger) (*spoolForwarder, error) {
	maxB := int64(o.spoolMaxMB) << 20
	sp, err := spool.Open(o.spoolPath, spool.Options{MaxBytes: maxB, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("oxd: %w", err)
	}
	fw, err := fwdlink.NewForwarder(sp, fwdlink.ForwarderOptions{
		Targets:       o.targets,
		FailoverAfter: o.failover,
		ProbeInterval: min(5*time.Second, o.failover),
		Compress:      o.compress,
		Logger:        log,
	})
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("oxd: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &spoolForwarder{sp: sp, fw: fw, path: o.spoolPath, maxB: maxB, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		fw.Run(ctx)
	}()
	st := sp.Stats()
	log.Info("spooled forwarding", "spool", o.spoolPath, "targets", o.targets, "forwarder_id", st.ID,
		"unacked", st.Unacked, "spool_bytes", st.Bytes)
	return f, nil
}

// Forward appends the event to the spool. It fails only when the disk does; the
// spool counts and logs that.
func (f *spoolForwarder) Forward(meta, data []byte) bool {
	if _, err := f.sp.Append(meta, data); err != nil {
		f.refused.Add(1)
		return false
	}
	return true
}

// Flush hands the spooled events to the operating system: after it, a killed oxd
// loses none of them. The loop calls it after every batch.
func (f *spoolForwarder) Flush() { f.sp.Flush() }

// SetTargets re-points forwarding (the FORWARD control command).
func (f *spoolForwarder) SetTargets(t []string) error { return f.fw.SetTargets(t) }

func (f *spoolForwarder) Stats() map[string]any {
	st := f.fw.Stats()
	sp := st.Spool
	m := map[string]any{
		"mode":               "spool",
		"target":             st.Target,
		"targets":            toAny(st.Targets),
		"connected":          st.Connected,
		"forwarder_id":       sp.ID,
		"spool_path":         f.path,
		"spool_bytes":        sp.Bytes,
		"spool_max_bytes":    f.maxB,
		"spool_segments":     sp.Segments,
		"unacked":            sp.Unacked,
		"oldest_unacked_age": sp.OldestUnacked.Seconds(),
		"acked_seq":          sp.Acked,
		"ack_rate":           st.AckRate,
		"sent":               st.EventsSent,
		"batches":            st.BatchesSent,
		"acked":              st.EventsAcked,
		"bytes_raw":          st.BytesRaw,
		"bytes_sent":         st.BytesSent,
		"compression_saving": st.CompressionSaving,
		"reconnects":         st.Reconnects,
		"failovers":          st.Failovers,
		"retargets":          st.Retargets,
		"spool_dropped":      sp.DroppedRecords,
		"disk_errors":        sp.DiskErrors,
		"disk_lost":          sp.LostRecords, // a refused Append is among them
		"corrupt":            sp.CorruptRecords,
	}
	if sp.LastDiskError != "" {
		m["last_disk_error"] = sp.LastDiskError
	}
	if st.LastError != "" {
		m["last_error"] = st.LastError
	}
	return m
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Close gives a connected forwarder until ctx ends (at most 2 s) to get what is
// spooled acknowledged, then stops; whatever is left stays in the spool for the next
// start.
func (f *spoolForwarder) Close(ctx context.Context) error {
	f.sp.Flush()
	wait, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for f.fw.Stats().Connected && f.sp.Stats().Unacked > 0 && wait.Err() == nil {
		select {
		case <-wait.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	f.cancel()
	<-f.done
	left := f.sp.Stats().Unacked
	if err := f.sp.Close(); err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("oxd: %d events stay in the spool for the next start", left)
	}
	return nil
}

// errStopping is returned to the link while oxd shuts down: the batch stays
// unacknowledged and the forwarder sends it again later.
var errStopping = errors.New("oxd is shutting down")

// deliverLink validates a batch from the link like a collection-port message, hands
// it to the collection loop and returns once the loop has written and flushed it (to
// the files, and to the spool of a forwarding oxd). oxd's run waits for the link
// receiver, and so for every deliverLink, before it closes the loop's input.
func (d *daemon) deliverLink(ctx context.Context, id string, evs []fwdlink.Event) error {
	events := make([]event, 0, len(evs))
	for _, e := range evs {
		ev, r, err := checkMessage([][]byte{e.Meta, e.Data})
		if err != nil {
			d.collect.dropped[r].Add(1)
			d.collect.badLog.Warn("drop:"+reasonNames[r], "dropped a bad message", "reason", reasonNames[r], "from", "forwarder "+id, "err", err)
			continue
		}
		events = append(events, ev)
	}
	done := make(chan struct{})
	select {
	case d.events <- batch{events: events, done: func() { close(done) }}:
	case <-ctx.Done():
		return errStopping
	}
	<-done // the loop runs until every source, this one included, has stopped
	return nil
}

// startLink binds --link and prepares the receiver; it keeps what it has written per
// forwarder beside the files (or the spool) it writes to.
func (d *daemon) startLink() error {
	state := filepath.Join(d.opts.spoolPath, "link-received")
	if d.opts.logPath != "" {
		state = filepath.Join(d.opts.logPath, ".oxd-link-received")
	}
	r, err := fwdlink.NewReceiver(fwdlink.ReceiverOptions{StatePath: state, Deliver: d.deliverLink, Logger: d.log,
		OnPanic: func(v any, stack []byte) { d.notePanic("link", nil, v, stack) }})
	if err != nil {
		return fmt.Errorf("oxd: link: %w", err)
	}
	ln, err := net.Listen("tcp", d.opts.link)
	if err != nil {
		return fmt.Errorf("oxd: link on %s: %w", d.opts.link, err)
	}
	d.linkRecv, d.linkLn = r, ln
	return nil
}

// linkStatus is STATUS's "link" key on a receiving oxd.
func (d *daemon) linkStatus() map[string]any {
	st := d.linkRecv.Stats()
	saving := 0.0
	if st.BytesRaw > 0 && st.BytesWire < st.BytesRaw {
		saving = 1 - float64(st.BytesWire)/float64(st.BytesRaw)
	}
	return map[string]any{
		"address":            d.linkLn.Addr().String(),
		"connections":        st.Connections,
		"forwarders":         st.Forwarders,
		"batches":            st.Batches,
		"events":             st.Events,
		"duplicates":         st.Duplicates,
		"gaps":               st.Gaps,
		"bad_frames":         st.BadFrames,
		"deliver_failures":   st.DeliverFails,
		"state_errors":       st.StateErrors,
		"evicted":            st.Evicted,
		"panics":             st.Panics,
		"busy":               st.Busy,
		"compression_saving": saving,
	}
}

// forwardCommand is the FORWARD control command: {"cmd": "FORWARD", "targets":
// "host:port,host:port"} (or a list) re-points spooled forwarding at once, keeping
// everything spooled; without "targets" it reports the current ones.
func (d *daemon) forwardCommand(req map[string]any) (map[string]any, func()) {
	sf, ok := d.fwd.(*spoolForwarder)
	if !ok {
		return map[string]any{"error": "FORWARD needs spooled forwarding (start oxd with --spool-path and --forward)"}, nil
	}
	var spec string
	switch t := req["targets"].(type) {
	case nil:
		st := sf.fw.Stats()
		return map[string]any{"ok": true, "target": st.Target, "targets": toAny(st.Targets)}, nil
	case string:
		spec = t
	case []byte:
		spec = string(t)
	case []any:
		var parts []string
		for _, v := range t {
			s, ok := v.(string)
			if !ok {
				return map[string]any{"error": "FORWARD: targets must be strings"}, nil
			}
			parts = append(parts, s)
		}
		spec = strings.Join(parts, ",")
	default:
		return map[string]any{"error": "FORWARD: \"targets\" must be \"host:port,...\" or a list"}, nil
	}
	targets, err := parseTargets(spec)
	if err == nil {
		err = sf.SetTargets(targets)
	}
	if err != nil {
		return map[string]any{"error": "FORWARD: " + err.Error()}, nil
	}
	return map[string]any{"ok": true, "targets": toAny(targets)}, nil
}
