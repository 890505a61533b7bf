package fwdlink

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox/internal/spool"
	"github.com/go-zeromq/zmq4"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sink collects delivered events and counts how often each arrived.
type sink struct {
	mu    sync.Mutex
	seen  map[string]int
	order []string
	dups  int
}

func newSink() *sink { return &sink{seen: map[string]int{}} }

func (s *sink) deliver(_ context.Context, _ string, evs []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		k := string(e.Data)
		s.seen[k]++
		if s.seen[k] > 1 {
			s.dups++
		}
		s.order = append(s.order, k)
	}
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// check verifies that events 0..n-1 each arrived exactly once.
func (s *sink) check(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		if c := s.seen[eventData(i)]; c != 1 {
			t.Fatalf("event %d arrived %d times", i, c)
		}
	}
	if len(s.seen) != n {
		t.Fatalf("%d distinct events, want %d", len(s.seen), n)
	}
}

func eventData(i int) string { return fmt.Sprintf("event-%06d", i) }

func spoolEvents(t *testing.T, sp *spool.Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := sp.Append([]byte("meta"), []byte(eventData(i))); err != nil {
			t.Fatal(err)
		}
	}
}

type testReceiver struct {
	r      *Receiver
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startReceiver serves a Receiver on addr ("" = a free port).
func startReceiver(t *testing.T, addr, state string, deliver DeliverFunc) *testReceiver {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the port of a receiver just stopped may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReceiver(ReceiverOptions{StatePath: state, Deliver: deliver, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testReceiver{r: r, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { tr.done <- r.Serve(ctx, ln) }()
	t.Cleanup(tr.stop)
	return tr
}

func (tr *testReceiver) stop() {
	tr.cancel()
	<-tr.done
	tr.done <- nil // later stops return at once
}

type testForwarder struct {
	f      *Forwarder
	cancel context.CancelFunc
	done   chan error
}

func startForwarder(t *testing.T, sp *spool.Spool, opts ForwarderOptions) *testForwarder {
	t.Helper()
	opts.Logger = quiet()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.BatchEvents == 0 {
		opts.BatchEvents = 300
	}
	f, err := NewForwarder(sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tf := &testForwarder{f: f, cancel: cancel, done: make(chan error, 1)}
	go func() { tf.done <- f.Run(ctx) }()
	t.Cleanup(tf.stop)
	return tf
}

func (tf *testForwarder) stop() {
	tf.cancel()
	<-tf.done
	tf.done <- nil
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{Logger: quiet(), SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForwardsEveryEventOnceAndInOrder(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			snk := newSink()
			rc := startReceiver(t, "", filepath.Join(t.TempDir(), "state"), snk.deliver)
			sp := openSpool(t, t.TempDir())
			tf := startForwarder(t, sp, ForwarderOptions{Targets: []string{rc.addr}, Compress: compress})
			const n = 10000
			spoolEvents(t, sp, 0, n)
			waitFor(t, "all events", func() bool { return snk.count() == n })
			snk.check(t, n)
			for i, k := range snk.order {
				if k != eventData(i) {
					t.Fatalf("event %d out of order: %s", i, k)
				}
			}
			waitFor(t, "spool acknowledged", func() bool { return sp.Stats().Unacked == 0 })
			st := tf.f.Stats()
			if st.EventsAcked != n || !st.Connected || st.Target != rc.addr {
				t.Fatalf("forwarder stats %+v", st)
			}
			if compress != (st.CompressionSaving > 0.3) {
				t.Fatalf("compression saving %.2f with compress=%v", st.CompressionSaving, compress)
			}
			if rs := rc.r.Stats(); rs.Events != n || rs.Duplicates != 0 {
				t.Fatalf("receiver stats %+v", rs)
			}
		})
	}
}

// The receiver is stopped and restarted several times mid-stream, once right after
// a batch was written but before its acknowledgement went out: the forwarder resends,
// the receiver's state file recognises the batch, nothing is written twice.
func TestReceiverRestartsLoseAndDuplicateNothing(t *testing.T) {
	snk := newSink()
	state := filepath.Join(t.TempDir(), "state")
	var (
		mu      sync.Mutex
		current *testReceiver
		batches int
	)
	var deliver DeliverFunc
	deliver = func(ctx context.Context, id string, evs []Event) error {
		snk.deliver(ctx, id, evs)
		mu.Lock()
		batches++
		if batches%7 == 0 {
			go current.cancel() // stop before the ack is sent
		}
		mu.Unlock()
		return nil
	}
	rc := startReceiver(t, "", state, deliver)
	mu.Lock()
	current = rc
	mu.Unlock()
	addr := rc.addr
	sp := openSpool(t, t.TempDir())
	startForwarder(t, sp, ForwarderOptions{Targets: []string{addr}, BatchEvents: 100})
	const n = 6000
	go func() {
		for i := range n {
			if _, err := sp.Append([]byte("meta"), []byte(eventData(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	restarts := 0
	deadline := time.Now().Add(60 * time.Second)
	for snk.count() < n && time.Now().Before(deadline) && restarts < 200 {
		mu.Lock()
		r := current
		mu.Unlock()
		select {
		case <-r.done:
			r.done <- nil
			restarts++
			nr := startReceiver(t, addr, state, deliver)
			mu.Lock()
			current = nr
			mu.Unlock()
		case <-time.After(20 * time.Millisecond):
		}
	}
	waitFor(t, "all events", func() bool { return snk.count() == n })
	if restarts < 3 {
		t.Fatalf("only %d receiver restarts happened", restarts)
	}
	snk.check(t, n)
	t.Logf("%d receiver restarts, 0 duplicates", restarts)
}

func TestForwarderRestartResumesFromTheSpool(t *testing.T) {
	snk := newSink()
	rc := startReceiver(t, "", filepath.Join(t.TempDir(), "state"), snk.deliver)
	dir := t.TempDir()
	const n = 6000
	sp, err := spool.Open(dir, spool.Options{Logger: quiet(), SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tf := startForwarder(t, sp, ForwarderOptions{Targets: []string{rc.addr}, BatchEvents: 100})
	spoolEvents(t, sp, 0, n/2)
	waitFor(t, "some events", func() bool { return snk.count() > 500 })
	tf.stop()
	sp.Close()

	sp2 := openSpool(t, dir)
	spoolEvents(t, sp2, n/2, n/2)
	startForwarder(t, sp2, ForwarderOptions{Targets: []string{rc.addr}})
	waitFor(t, "all events", func() bool { return snk.count() == n })
	snk.check(t, n)
}

func TestFailoverToBackupAndBackToPrimary(t *testing.T) {
	primary := newSink()
	backup := newSink()
	// Reserve the primary's port, and keep it closed for now.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	primaryAddr := ln.Addr().String()
	ln.Close()
	rb := startReceiver(t, "", filepath.Join(t.TempDir(), "b"), backup.deliver)
	sp := openSpool(t, t.TempDir())
	tf := startForwarder(t, sp, ForwarderOptions{
		Targets:       []string{primaryAddr, rb.addr},
		FailoverAfter: 300 * time.Millisecond,
		ProbeInterval: 100 * time.Millisecond,
	})
	spoolEvents(t, sp, 0, 1000)
	waitFor(t, "events at the backup", func() bool { return backup.count() == 1000 })
	if st := tf.f.Stats(); st.Failovers == 0 || st.Target != rb.addr {
		t.Fatalf("after failover: %+v", st)
	}
	startReceiver(t, primaryAddr, filepath.Join(t.TempDir(), "a"), primary.deliver)
	waitFor(t, "return to the primary", func() bool {
		st := tf.f.Stats()
		return st.Target == primaryAddr && st.Connected
	})
	spoolEvents(t, sp, 1000, 1000)
	waitFor(t, "events at the primary", func() bool { return primary.count()+backup.count() == 2000 })
	all := newSink()
	for _, s := range []*sink{primary, backup} {
		for _, k := range s.order {
			all.deliver(context.Background(), "", []Event{{Data: []byte(k)}})
		}
	}
	all.check(t, 2000)
	if primary.count() == 0 {
		t.Fatal("nothing went to the primary after it returned")
	}
}

func TestSetTargetsRepointsMidStreamLosingNothing(t *testing.T) {
	a, b := newSink(), newSink()
	ra := startReceiver(t, "", filepath.Join(t.TempDir(), "a"), a.deliver)
	rb := startReceiver(t, "", filepath.Join(t.TempDir(), "b"), b.deliver)
	sp := openSpool(t, t.TempDir())
	tf := startForwarder(t, sp, ForwarderOptions{Targets: []string{ra.addr}, BatchEvents: 50})
	const n = 8000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i += 100 {
			spoolEvents(t, sp, i, 100)
			time.Sleep(time.Millisecond)
		}
	}()
	waitFor(t, "some events at A", func() bool { return a.count() > 1000 })
	if err := tf.f.SetTargets([]string{rb.addr}); err != nil {
		t.Fatal(err)
	}
	<-done
	waitFor(t, "all events", func() bool { return a.count()+b.count() == n })
	if b.count() == 0 {
		t.Fatal("nothing went to the new target")
	}
	all := newSink()
	for _, s := range []*sink{a, b} {
		for _, k := range s.order {
			all.deliver(context.Background(), "", []Event{{Data: []byte(k)}})
		}
	}
	all.check(t, n)
	if st := tf.f.Stats(); st.Target != rb.addr || st.Retargets == 0 {
		t.Fatalf("stats after re-pointing: %+v", st)
	}
	if err := tf.f.SetTargets(nil); err == nil {
		t.Fatal("an empty target list must be refused")
	}
	if err := tf.f.SetTargets([]string{"no-port"}); err == nil {
		t.Fatal("a target without a port must be refused")
	}
}

// Garbage from a ZeroMQ peer gets an error frame and a closed connection; the receiver
// keeps serving real forwarders.
func TestReceiverRefusesBadFramesAndKeepsServing(t *testing.T) {
	snk := newSink()
	rc := startReceiver(t, "", "", snk.deliver)
	cases := []struct {
		name string
		msg  zmq4.Msg
		want string
	}{
		{"not a link frame", zmq4.NewMsgString("hello?"), "malformed"},
		{"newer protocol version", zmq4.NewMsg(append([]byte("OXF\x09"), make([]byte, 20)...)), "version"},
		{"two parts", zmq4.NewMsgFrom([]byte("a"), []byte("b")), "parts"},
		{"batch count lies", zmq4.NewMsg(AppendFrame(nil, Frame{Type: TypeBatch, ID: "x", Seq: 1, Count: 3, Payload: make([]byte, 30)})), "malformed"},
		{"ack from a forwarder", zmq4.NewMsg(AppendFrame(nil, Frame{Type: TypeAck, ID: "x", Seq: 1})), "unexpected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := zmq4.NewDealer(ctx)
			defer d.Close()
			if err := d.Dial("tcp://" + rc.addr); err != nil {
				t.Fatal(err)
			}
			if err := d.Send(tc.msg); err != nil {
				t.Fatal(err)
			}
			reply, err := d.Recv()
			if err != nil {
				t.Fatal(err)
			}
			f, err := DecodeFrame(reply.Frames[0])
			if err != nil || f.Type != TypeError {
				t.Fatalf("reply %q (%v), want an error frame", reply.Frames[0], err)
			}
			if !strings.Contains(strings.ToLower(string(f.Payload)), tc.want) {
				t.Fatalf("error %q does not mention %q", f.Payload, tc.want)
			}
		})
	}
	sp := openSpool(t, t.TempDir())
	startForwarder(t, sp, ForwarderOptions{Targets: []string{rc.addr}})
	spoolEvents(t, sp, 0, 100)
	waitFor(t, "good events after bad peers", func() bool { return snk.count() == 100 })
	if rc.r.Stats().BadFrames < 4 {
		t.Fatalf("bad frames not counted: %+v", rc.r.Stats())
	}
}

// A delivery failure (the receiver's disk is full) leaves the batch unacknowledged; it
// arrives once delivery works again.
func TestDeliveryFailureIsRetried(t *testing.T) {
	snk := newSink()
	var mu sync.Mutex
	failing := true
	rc := startReceiver(t, "", "", func(ctx context.Context, id string, evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return fmt.Errorf("no space left on device")
		}
		return snk.deliver(ctx, id, evs)
	})
	sp := openSpool(t, t.TempDir())
	startForwarder(t, sp, ForwarderOptions{Targets: []string{rc.addr}})
	spoolEvents(t, sp, 0, 500)
	waitFor(t, "a failed delivery", func() bool { return rc.r.Stats().DeliverFails > 0 })
	if sp.Stats().Acked != 0 {
		t.Fatal("a failed batch was acknowledged")
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	waitFor(t, "all events", func() bool { return snk.count() == 500 })
	snk.check(t, 500)
}

// The receiver's state survives a restart; a damaged slot costs only that
// forwarder's dedup point and its slot is reused.
func TestReceiverStateFileSurvivesRestartAndDamage(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	deliver := func(context.Context, string, []Event) error { return nil }
	r, err := NewReceiver(ReceiverOptions{StatePath: state, Deliver: deliver, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []Frame{
		{Type: TypeBatch, ID: "fwd-a", Seq: 1, Count: 3},
		{Type: TypeBatch, ID: "fwd-b", Seq: 1, Count: 2},
		{Type: TypeBatch, ID: "fwd-a", Seq: 4, Count: 2},
	} {
		b.Payload = appendEvents(nil, testEvents(int(b.Count)))
		if _, err := r.batch(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	r.stateF.Close()
	reload := func() *Receiver {
		t.Helper()
		r, err := NewReceiver(ReceiverOptions{StatePath: state, Deliver: deliver, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.stateF.Close() })
		return r
	}
	r2 := reload()
	if a, _ := r2.lastSeq("fwd-a"); a != 5 {
		t.Fatalf("fwd-a at %d after restart, want 5", a)
	}
	if b, _ := r2.lastSeq("fwd-b"); b != 2 {
		t.Fatalf("fwd-b at %d after restart, want 2", b)
	}
	r2.stateF.Close()
	raw, _ := os.ReadFile(state)
	raw[20] ^= 0xff // inside fwd-a's slot
	os.WriteFile(state, raw, 0o644)
	r3 := reload()
	if a, _ := r3.lastSeq("fwd-a"); a != 0 {
		t.Fatalf("damaged slot read as %d", a)
	}
	if b, _ := r3.lastSeq("fwd-b"); b != 2 {
		t.Fatalf("fwd-b at %d after damage elsewhere, want 2", b)
	}
	f := Frame{Type: TypeBatch, ID: "fwd-c", Seq: 1, Count: 1, Payload: appendEvents(nil, testEvents(1))}
	if _, err := r3.batch(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(state); fi.Size() != 2*slotSize {
		t.Fatalf("state file is %d bytes: the damaged slot was not reused", fi.Size())
	}
}

// Stopping a forwarder never waits for a stalled peer (one that accepts the TCP
// connection and then says nothing), whatever the link timeout.
func TestForwarderStopsPromptlyWithAStalledPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	sp := openSpool(t, t.TempDir())
	f, err := NewForwarder(sp, ForwarderOptions{Targets: []string{ln.Addr().String()}, Timeout: time.Minute, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of cancel")
	}
}
