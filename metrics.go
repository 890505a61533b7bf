package ox

import (
	"expvar"
	"fmt"
	"io"
	"strconv"
)

// statsVar is the expvar variable PublishExpvar registers: ReadStats, read each
// time the variable is.
type statsVar struct{}

// String is the counters as a JSON object, for expvar's /debug/vars.
func (statsVar) String() string {
	st := ReadStats()
	s := st.Sender
	return fmt.Sprintf(`{"queued": %d, "queued_bytes": %d, "sent": %d, "dropped": %d, "lost": %d, `+
		`"errors": %d, "invalid_names": %d, "connected": %t, "reconnects": %d, "disconnects": %d}`,
		s.Queued, s.QueuedBytes, s.Sent, s.Dropped, s.Lost, st.Errors, st.InvalidNames, s.Connected, s.Reconnects, s.Disconnects)
}

// PublishExpvar makes the package's counters (ReadStats: events queued, sent,
// dropped and lost by the configured Sender, errors, invalid names) an expvar
// variable under name, so an application that serves expvar's /debug/vars (import
// _ "expvar" with net/http's default mux) shows them beside its own. The variable
// reads the counters when it is read, whatever Sender is configured then. Calling it
// again with the same name does nothing; a name another variable holds is an error
// (expvar itself would panic).
func PublishExpvar(name string) error {
	switch v := expvar.Get(name); v.(type) {
	case nil:
		expvar.Publish(name, statsVar{})
		return nil
	case statsVar:
		return nil
	default:
		return fmt.Errorf("ox: expvar %q is already published by something else", name)
	}
}

// WriteMetrics writes the package's counters in the Prometheus text exposition
// format (version 0.0.4) to w, with names starting ox_: what an application's own
// /metrics handler appends so that events its code dropped show up in Prometheus
// without a client library. See docs/library.md for the names.
func WriteMetrics(w io.Writer) error {
	st := ReadStats()
	s := st.Sender
	var b []byte
	metric := func(name, typ, help string, v uint64) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, typ, name)
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	metric("ox_events_queued", "gauge", "Events waiting in the Sender's queue.", uint64(max(s.Queued, 0)))
	metric("ox_events_queued_bytes", "gauge", "Bytes waiting in the Sender's queue.", uint64(max(s.QueuedBytes, 0)))
	metric("ox_events_sent_total", "counter", "Events written to a collector connection.", s.Sent)
	metric("ox_events_dropped_total", "counter", "Events refused because the queue was full or the Sender closed.", s.Dropped)
	metric("ox_events_lost_total", "counter", "Events still queued when the Sender's Close gave up.", s.Lost)
	metric("ox_invalid_names_total", "counter", "Events not recorded because their name was invalid.", st.InvalidNames)
	metric("ox_errors_total", "counter", "Problems reported to the error handler, all kinds.", st.Errors)
	metric("ox_sender_reconnects_total", "counter", "Connections to the collector after the first.", s.Reconnects)
	connected := uint64(0)
	if s.Connected {
		connected = 1
	}
	metric("ox_sender_connected", "gauge", "1 while the Sender has a connection to its collector.", connected)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("ox: write metrics: %w", err)
	}
	return nil
}
