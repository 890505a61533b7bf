package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
)

// Drop stages: where in oxd an event was lost. Every event received is accepted or
// dropped at "input"; every accepted event is written or dropped at "files" (with
// --log-path) and forwarded, queued or dropped at "forward" (with --forward). See
// docs/metrics.md.
const (
	stageInput   = "input"
	stageFiles   = "files"
	stageForward = "forward"
)

// drop is one oxd_events_dropped_total series.
type drop struct {
	stage, reason string
	n             uint64
}

// accounting is the event counts the identity of docs/metrics.md is about, from one
// STATUS snapshot.
type accounting struct {
	received, accepted uint64
	written            uint64 // accepted events handed to their files (0 without files)
	forwarded          uint64 // sent (plain PUSH) or acknowledged (spooled forwarding)
	forwardQueued      uint64 // waiting: in the PUSH queue, or unacknowledged in the spool
	drops              []drop
}

// account reads the accounting from a STATUS reply. The input drop reasons are
// whatever the reply's "dropped" map holds, so reasons added later appear without a
// change here.
func (d *daemon) account(st map[string]any) accounting {
	var a accounting
	// Accepted and lost to files from one copy of the loop's counters (STATUS shows
	// "files" only once a file was opened).
	d.stats.mu.Lock()
	a.accepted = d.stats.received
	fileLost := d.stats.writer.LostOnErrors
	d.stats.mu.Unlock()
	dropped, _ := st["dropped"].(map[string]any)
	for _, r := range sortedKeys(dropped) {
		a.drops = append(a.drops, drop{stageInput, r, toUint(dropped[r])})
	}
	a.received = a.accepted
	for _, dr := range a.drops {
		a.received += dr.n
	}
	if d.files != nil {
		a.written = a.accepted - min(fileLost, a.accepted)
		a.drops = append(a.drops, drop{stageFiles, "write_error", fileLost})
	}
	fw, _ := st["forward"].(map[string]any)
	switch f := d.fwd.(type) {
	case *pushForwarder:
		a.forwarded = toUint(fw["sent"])
		a.forwardQueued = toUint(fw["queued"])
		a.drops = append(a.drops,
			drop{stageForward, "queue_full", toUint(fw["dropped"])},
			drop{stageForward, "unsent_at_exit", toUint(fw["lost"])})
	case *spoolForwarder:
		// Within one run (a spool empty at start): every accepted event is
		// acknowledged, waiting in the spool, dropped from a full spool, or lost to
		// a disk error. LostRecords counts each lost event once, whether its segment
		// could not be created or its buffered write failed.
		sp := f.sp.Stats()
		a.forwarded = toUint(fw["acked"])
		a.forwardQueued = sp.Unacked
		a.drops = append(a.drops,
			drop{stageForward, "spool_full", sp.DroppedRecords},
			drop{stageForward, "disk_error", sp.LostRecords})
	}
	return a
}

// writeMetrics renders /metrics from one STATUS snapshot and the process's own
// figures.
func (w *web) writeMetrics(p *promText) {
	d := w.d
	st := d.status()
	a := d.account(st)

	p.one("oxd_events_received_total", "counter", "Messages received on the collection port and the link, good or not.", float64(a.received))
	p.one("oxd_events_accepted_total", "counter", "Received events that passed the checks and went to the outputs.", float64(a.accepted))
	p.one("oxd_events_written_total", "counter", "Accepted events handed to their log files (0 without --log-path).", float64(a.written))
	p.one("oxd_events_forwarded_total", "counter", "Accepted events sent on with plain PUSH, or acknowledged by the receiver on the link.", float64(a.forwarded))
	if p.family("oxd_events_dropped_total", "counter", "Events lost, by stage (input, files, forward) and reason.") {
		for _, dr := range a.drops {
			p.sampleUint("oxd_events_dropped_total", dr.n, "stage", dr.stage, "reason", dr.reason)
		}
	}
	p.one("oxd_bytes_received_total", "counter", "Bytes of accepted events, meta and data frames.", float64(w.bytesReceived()))

	counts, untracked := d.stats.snapshotCounts()
	split := w.types.split(counts, untracked)
	if p.family("oxd_type_events_total", "counter", "Accepted events by type; the types past --metrics-types are summed as type=\"other\".") {
		for _, s := range split {
			p.sampleUint("oxd_type_events_total", s.events, "type", s.name)
		}
	}
	if p.family("oxd_type_bytes_total", "counter", "Bytes of accepted events by type, as oxd_type_events_total.") {
		for _, s := range split {
			p.sampleUint("oxd_type_bytes_total", s.bytes, "type", s.name)
		}
	}
	p.one("oxd_types", "gauge", "Event types seen since start (at most 10000 are told apart).", float64(len(counts)))
	if last, ok := toFloat(st["last"]); ok {
		p.one("oxd_last_event_received_timestamp_seconds", "gauge", "When the last event was received, Unix time.", last)
		lag, _ := toFloat(st["lag"])
		p.one("oxd_last_event_lag_seconds", "gauge", "Receive time of the last event minus its end time.", lag)
	}

	if files, ok := st["files"].(map[string]any); ok {
		writeFiles(p, files)
	}
	p.one("oxd_connections", "gauge", "Collection connections open (past the handshake).", toFloatOr0(st["connections"]))
	p.one("oxd_connections_refused_total", "counter", "Collection connections refused (past --max-connections).", toFloatOr0(st["connections_refused"]))
	// Connection counters added later ("connections_evicted", ...) follow generically.
	for _, k := range sortedKeys(st) {
		if strings.HasPrefix(k, "connections_") && k != "connections_refused" {
			if v, ok := toFloat(st[k]); ok {
				p.one("oxd_"+promName(k)+"_total", "counter", "STATUS "+k+".", v)
			}
		}
	}

	if s, ok := st["stream"].(map[string]any); ok {
		p.one("oxd_stream_subscribers", "gauge", "Stream subscribers connected.", toFloatOr0(s["subscribers"]))
		p.one("oxd_stream_events_sent_total", "counter", "Events written to stream subscribers.", toFloatOr0(s["sent"]))
		p.one("oxd_stream_events_dropped_total", "counter", "Events a subscriber lost because its queue was full (the subscriber's loss, not oxd's).", toFloatOr0(s["dropped"]))
		p.one("oxd_stream_queued_events", "gauge", "Events queued for subscribers.", toFloatOr0(s["queued"]))
		p.one("oxd_stream_refused_total", "counter", "Subscriber connections refused.", toFloatOr0(s["refused"]))
	}
	if f, ok := st["forward"].(map[string]any); ok {
		writeForward(p, f)
	}
	if l, ok := st["link"].(map[string]any); ok {
		writeLink(p, l)
	}
	p.one("oxd_ready", "gauge", "1 when /readyz answers 200.", b2f(len(w.readiness(st)) == 0))
	writeBuildInfo(p)
	writeProcess(p)
	writeRuntime(p)
}

func (w *web) bytesReceived() uint64 {
	w.d.stats.mu.Lock()
	defer w.d.stats.mu.Unlock()
	return w.d.stats.counts.bytes
}

// fileMetrics names the counters of STATUS "files"; other keys appear as
// oxd_files_<key>_total, and nested maps (per-reason counters) with a reason label.
var fileMetrics = map[string]struct{ name, typ, help string }{
	"open":          {"oxd_files_open", "gauge", "Log files open."},
	"written":       {"oxd_files_events_total", "counter", "Events appended to log file buffers."},
	"bytes":         {"oxd_files_bytes_total", "counter", "Bytes appended to log files."},
	"opened":        {"oxd_files_opened_total", "counter", "Log files opened."},
	"reopened":      {"oxd_files_reopened_total", "counter", "Log files found moved or deleted and opened again."},
	"rotations":     {"oxd_files_rotations_total", "counter", "File period changes (daily or --rotate-hours)."},
	"write_errors":  {"oxd_files_write_errors_total", "counter", "Failed opens and writes of log files."},
	"lost_on_error": {"oxd_files_lost_events_total", "counter", "Events lost to failed opens and writes (also in oxd_events_dropped_total)."},
}

func writeFiles(p *promText, files map[string]any) {
	for _, k := range sortedKeys(files) {
		v := files[k]
		if m, ok := fileMetrics[k]; ok {
			p.one(m.name, m.typ, m.help, toFloatOr0(v))
			continue
		}
		name := "oxd_files_" + promName(k)
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
		switch v := v.(type) {
		case map[string]any:
			if p.family(name, "counter", "STATUS files."+k+", by reason.") {
				for _, r := range sortedKeys(v) {
					p.sample(name, toFloatOr0(v[r]), "reason", r)
				}
			}
		default:
			if f, ok := toFloat(v); ok {
				p.one(name, "counter", "STATUS files."+k+".", f)
			}
		}
	}
}

func writeForward(p *promText, f map[string]any) {
	mode, _ := f["mode"].(string)
	target, _ := f["target"].(string)
	p.one("oxd_forward_info", "gauge", "The forwarding mode and the target in use.", 1, "mode", mode, "target", target)
	p.one("oxd_forward_connected", "gauge", "1 while a connection to the forward target is up.", b2f(f["connected"] == true))
	p.one("oxd_forward_events_sent_total", "counter", "Events sent to the target (spooled: resends included).", toFloatOr0(f["sent"]))
	p.one("oxd_forward_reconnects_total", "counter", "Connections to forward targets opened again.", toFloatOr0(f["reconnects"]))
	if mode == "push" {
		p.one("oxd_forward_queued_events", "gauge", "Events waiting in the plain PUSH queue.", toFloatOr0(f["queued"]))
		p.one("oxd_forward_queued_bytes", "gauge", "Bytes waiting in the plain PUSH queue.", toFloatOr0(f["queue_bytes"]))
		p.one("oxd_forward_queue_limit_bytes", "gauge", "Bound of the plain PUSH queue (--forward-queue-mb).", toFloatOr0(f["max_bytes"]))
		return
	}
	p.one("oxd_forward_events_acked_total", "counter", "Events the receiver acknowledged.", toFloatOr0(f["acked"]))
	p.one("oxd_forward_batches_sent_total", "counter", "Batches sent on the link, resends included.", toFloatOr0(f["batches"]))
	sent, acked, unacked := toUint(f["sent"]), toUint(f["acked"]), toUint(f["unacked"])
	p.one("oxd_forward_events_resent_estimate_total", "counter", "Events sent more than once: sent - acknowledged - unacknowledged, at least 0.", float64(sent-min(sent, acked+unacked)))
	p.one("oxd_forward_bytes_sent_total", "counter", "Batch payload bytes sent on the link (after compression).", toFloatOr0(f["bytes_sent"]))
	p.one("oxd_forward_failovers_total", "counter", "Moves to the next target because the current one was unreachable.", toFloatOr0(f["failovers"]))
	p.one("oxd_forward_retargets_total", "counter", "Moves asked for by FORWARD, or back to the first target.", toFloatOr0(f["retargets"]))
	p.one("oxd_spool_bytes", "gauge", "Size of the spool on disk.", toFloatOr0(f["spool_bytes"]))
	p.one("oxd_spool_limit_bytes", "gauge", "Bound of the spool (--spool-max-mb).", toFloatOr0(f["spool_max_bytes"]))
	p.one("oxd_spool_segments", "gauge", "Spool segment files.", toFloatOr0(f["spool_segments"]))
	p.one("oxd_spool_unacked_events", "gauge", "Events in the spool not yet acknowledged.", toFloatOr0(f["unacked"]))
	p.one("oxd_spool_oldest_unacked_age_seconds", "gauge", "Age of the oldest unacknowledged event (0 when none).", toFloatOr0(f["oldest_unacked_age"]))
	p.one("oxd_spool_disk_errors_total", "counter", "Failed spool writes, creates and syncs.", toFloatOr0(f["disk_errors"]))
	p.one("oxd_spool_corrupt_records_total", "counter", "Corrupt spool records found while reading.", toFloatOr0(f["corrupt"]))
}

func writeLink(p *promText, l map[string]any) {
	p.one("oxd_link_connections", "gauge", "Acknowledged-link connections open.", toFloatOr0(l["connections"]))
	p.one("oxd_link_batches_total", "counter", "Link batches delivered and acknowledged.", toFloatOr0(l["batches"]))
	p.one("oxd_link_events_total", "counter", "Link events delivered.", toFloatOr0(l["events"]))
	p.one("oxd_link_duplicate_events_total", "counter", "Resent link events skipped because they were already written.", toFloatOr0(l["duplicates"]))
	p.one("oxd_link_gaps_total", "counter", "Sequence numbers forwarders skipped (dropped from a full spool upstream).", toFloatOr0(l["gaps"]))
	p.one("oxd_link_bad_frames_total", "counter", "Malformed link frames (the connection was closed).", toFloatOr0(l["bad_frames"]))
	p.one("oxd_link_deliver_failures_total", "counter", "Link batches that could not be delivered (left unacknowledged).", toFloatOr0(l["deliver_failures"]))
}

func writeBuildInfo(p *promText) {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	p.one("oxd_build_info", "gauge", "Always 1; the labels say which oxd this is.", 1, "goversion", runtime.Version(), "version", version)
}

// runtimeMetrics are the runtime/metrics samples /metrics shows.
var runtimeMetrics = []struct{ key, name, typ, help string }{
	{"/sched/goroutines:goroutines", "oxd_go_goroutines", "gauge", "Goroutines."},
	{"/sched/gomaxprocs:threads", "oxd_go_gomaxprocs", "gauge", "GOMAXPROCS."},
	{"/memory/classes/total:bytes", "oxd_go_memory_bytes", "gauge", "Memory mapped by the Go runtime."},
	{"/memory/classes/heap/objects:bytes", "oxd_go_heap_objects_bytes", "gauge", "Memory of live and not yet swept heap objects."},
	{"/gc/heap/goal:bytes", "oxd_go_heap_goal_bytes", "gauge", "Heap size the garbage collector aims for."},
	{"/gc/cycles/total:gc-cycles", "oxd_go_gc_cycles_total", "counter", "Completed garbage collection cycles."},
	{"/gc/heap/allocs:bytes", "oxd_go_heap_allocated_bytes_total", "counter", "Bytes allocated on the heap."},
}

func writeRuntime(p *promText) {
	samples := make([]metrics.Sample, len(runtimeMetrics))
	for i, m := range runtimeMetrics {
		samples[i].Name = m.key
	}
	metrics.Read(samples)
	for i, m := range runtimeMetrics {
		var v float64
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			v = samples[i].Value.Float64()
		default:
			continue // not in this Go version
		}
		p.one(m.name, m.typ, m.help, v)
	}
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case bool:
		return b2f(n), true
	}
	return 0, false
}

func toFloatOr0(v any) float64 {
	f, _ := toFloat(v)
	return f
}

func toUint(v any) uint64 {
	switch n := v.(type) {
	case uint64:
		return n
	case int:
		return uint64(max(n, 0))
	case int64:
		return uint64(max(n, 0))
	case float64:
		return uint64(max(n, 0))
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
