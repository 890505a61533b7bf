package ox

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
	"github.com/go-zeromq/zmq4"
)

// testCollector is a stand-in for oxd's collection port: a zmq4 PULL socket that
// hands every two-frame message to a channel.
type testCollector struct {
	sock   zmq4.Socket
	cancel context.CancelFunc
	msgs   chan zmq4.Msg
	done   chan struct{}
	got    atomic.Int64 // messages received so far
}

func startCollector(t *testing.T, addr string) *testCollector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewPull(ctx)
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if err = sock.Listen("tcp://" + addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatalf("collector listen %s: %v", addr, err)
	}
	c := &testCollector{sock: sock, cancel: cancel, msgs: make(chan zmq4.Msg, 100000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			msg, err := sock.Recv()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue // zmq4 reports a peer's disconnect as a Recv error
			}
			c.msgs <- msg
			c.got.Add(1)
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *testCollector) close() {
	c.cancel()
	c.sock.Close()
	<-c.done
}

// receive waits for n messages, failing the test after a bounded time.
func (c *testCollector) receive(t *testing.T, n int) []zmq4.Msg {
	t.Helper()
	out := make([]zmq4.Msg, 0, n)
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("received %d of %d messages", len(out), n)
		}
	}
	return out
}

// testEvent builds the two frames of an event whose body carries seq.
func testEvent(t testing.TB, seq int) (meta, data []byte) {
	t.Helper()
	r := Record{
		ID: "5f3c2a1b0123456789abcdef01234567", Type: "request", Host: "web1", PID: 42,
		Start: time.Unix(1700000000, 0), End: time.Unix(1700000001, 500000000),
		Body: map[string]any{"seq": seq},
	}
	meta, err := AppendMeta(nil, r.Meta())
	if err != nil {
		t.Fatal(err)
	}
	data, err = AppendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

func seqOf(t *testing.T, m zmq4.Msg) int {
	t.Helper()
	if len(m.Frames) != 2 || len(m.Frames[0]) != MetaSize {
		t.Fatalf("message has %d frames, want meta (137 bytes) + data", len(m.Frames))
	}
	r, err := DecodeRecord(m.Frames[1])
	if err != nil {
		t.Fatal(err)
	}
	return int(r.Body["seq"].(int64))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeSender(t *testing.T, s *Sender) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Close(ctx)
}

func localAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

var fastRetry = &SenderOptions{MaxBackoff: 50 * time.Millisecond}

func TestSenderDeliversFramesUnchanged(t *testing.T) {
	addr := localAddr(t)
	col := startCollector(t, addr)
	s := NewSender(addr, fastRetry)
	for i := 0; i < 10; i++ {
		meta, data := testEvent(t, i)
		if !s.TrySend(meta, data) {
			t.Fatalf("TrySend %d refused", i)
		}
	}
	for i, m := range col.receive(t, 10) {
		meta, data := testEvent(t, i)
		if !bytes.Equal(m.Frames[0], meta) || !bytes.Equal(m.Frames[1], data) {
			t.Fatalf("event %d arrived changed", i)
		}
	}
	if err := closeSender(t, s); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != 10 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats = %+v, want 10 sent", st)
	}
}

func TestSenderLargeEventUsesLongFrames(t *testing.T) {
	addr := localAddr(t)
	col := startCollector(t, addr)
	s := NewSender(addr, fastRetry)
	defer closeSender(t, s)
	meta, _ := testEvent(t, 0)
	data, err := AppendRecord(nil, Record{ID: "x", Type: "big", Body: map[string]any{"blob": strings.Repeat("x", 300000)}})
	if err != nil {
		t.Fatal(err)
	}
	s.TrySend(meta, data)
	m := col.receive(t, 1)[0]
	if !bytes.Equal(m.Frames[1], data) {
		t.Fatalf("large data frame arrived with %d bytes, want %d", len(m.Frames[1]), len(data))
	}
}

func TestSenderStartedBeforeCollectorDeliversQueuedEvents(t *testing.T) {
	addr := localAddr(t)
	var failed atomic.Int64
	opts := *fastRetry
	opts.OnError = func(error) { failed.Add(1) }
	s := NewSender(addr, &opts)
	defer closeSender(t, s)
	for i := 0; i < 100; i++ {
		meta, data := testEvent(t, i)
		if !s.TrySend(meta, data) {
			t.Fatalf("TrySend %d refused", i)
		}
	}
	waitFor(t, "a few connection attempts to fail", func() bool { return failed.Load() >= 3 })
	if st := s.Stats(); st.Connected || st.Queued != 100 {
		t.Fatalf("before the collector: stats = %+v, want 100 queued, not connected", st)
	}
	col := startCollector(t, addr)
	for i, m := range col.receive(t, 100) {
		if got := seqOf(t, m); got != i {
			t.Fatalf("event %d arrived as %d: order lost", i, got)
		}
	}
}

func TestSenderCollectorRestartLosesNothingQueued(t *testing.T) {
	addr := localAddr(t)
	col := startCollector(t, addr)
	s := NewSender(addr, fastRetry)
	defer closeSender(t, s)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			meta, data := testEvent(t, i)
			if !s.TrySend(meta, data) {
				t.Fatalf("TrySend %d refused", i)
			}
		}
	}
	send(0, 100)
	col.receive(t, 100)
	col.close()
	waitFor(t, "the sender to notice the collector went away", func() bool { return s.Stats().Disconnects == 1 })
	send(100, 200) // recorded while the collector is down
	col = startCollector(t, addr)
	for i, m := range col.receive(t, 100) {
		if got := seqOf(t, m); got != 100+i {
			t.Fatalf("after restart event %d arrived as %d", 100+i, got)
		}
	}
	waitFor(t, "200 sent", func() bool { return s.Stats().Sent == 200 })
	if st := s.Stats(); st.Reconnects != 1 {
		t.Errorf("stats = %+v, want 1 reconnect", st)
	}
}

// A collector restarting while events stream in loses only what was in flight
// on the dead connection: ZeroMQ PUSH/PULL has no acknowledgements.
//
// How much is in flight depends on how far the sender runs ahead of the collector,
// which on a loaded machine is a matter of scheduling; so the stream is paced on a
// condition rather than on the clock: event i is handed over only once the collector
// has read all but the last maxInFlight events before it. That caps what can be in
// flight when the collector goes away, so the bound holds however slow the machine.
// What the Sender itself promises is checked exactly: the events lost are one run
// right after the last event the old collector read, the Sender had written every one
// of them to the connection that broke, and every later event arrives, in order.
func TestSenderCollectorRestartMidStreamLosesOnlyInFlight(t *testing.T) {
	const (
		total       = 3000
		restartAt   = 500 // events the first collector reads before it goes away
		maxInFlight = 100
	)
	addr := localAddr(t)
	col := startCollector(t, addr)
	var writtenAtBreak atomic.Int64 // events written when the break was noticed
	writtenAtBreak.Store(-1)
	var sender atomic.Pointer[Sender]
	opts := *fastRetry
	opts.OnError = func(err error) {
		// Called on the writer goroutine, which alone counts Sent: the count is
		// exactly what had been written to the connection that broke.
		if strings.Contains(err.Error(), "lost") {
			writtenAtBreak.CompareAndSwap(-1, int64(sender.Load().Stats().Sent))
		}
	}
	s := NewSender(addr, &opts)
	sender.Store(s)
	defer closeSender(t, s)

	old := col
	broken := make(chan struct{}) // closed once the sender noticed the break
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i++ {
			// Until the sender has noticed the break, wait for the old collector to
			// catch up; after it, events queue while no collector listens.
			for old.got.Load() < int64(i+1-maxInFlight) {
				select {
				case <-broken:
				case <-time.After(time.Millisecond):
					continue
				}
				break
			}
			meta, data := testEvent(t, i)
			if !s.TrySend(meta, data) {
				t.Errorf("TrySend %d refused", i)
				return
			}
		}
	}()
	waitFor(t, "the first collector to read its share", func() bool { return old.got.Load() >= restartAt })
	old.close()
	waitFor(t, "the sender to notice the collector went away", func() bool { return s.Stats().Disconnects >= 1 })
	close(broken)
	col = startCollector(t, addr)
	wg.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	// The old collector's channel holds what it read; Close waited for the new one
	// to read all it was sent.
	var before, after []int
	for len(old.msgs) > 0 {
		before = append(before, seqOf(t, <-old.msgs))
	}
	for len(col.msgs) > 0 {
		after = append(after, seqOf(t, <-col.msgs))
	}
	for i, seq := range before {
		if seq != i {
			t.Fatalf("the first collector's event %d arrived as %d", i, seq)
		}
	}
	if len(after) == 0 {
		t.Fatal("nothing reached the restarted collector")
	}
	for i, seq := range after {
		if seq != after[0]+i {
			t.Fatalf("after the restart event %d arrived as %d: a gap or a reorder", after[0]+i, seq)
		}
	}
	lostFrom, lostTo := len(before), after[0] // events [lostFrom, lostTo) were lost
	if after[len(after)-1] != total-1 {
		t.Errorf("the last event to arrive is %d, want %d", after[len(after)-1], total-1)
	}
	written := int(writtenAtBreak.Load())
	lost := lostTo - lostFrom
	t.Logf("collector restart mid-stream: %d of %d events lost (in flight), %d written when the break was noticed, %d reconnects",
		lost, total, written, s.Stats().Reconnects)
	if lostTo > written {
		t.Errorf("events %d..%d were lost but only %d had been written to the broken connection: queued events were lost",
			lostFrom, lostTo-1, written)
	}
	if lost > maxInFlight {
		t.Errorf("lost %d events across a restart, more than the %d that can have been in flight", lost, maxInFlight)
	}
}

func TestSenderQueueFullDropsAndCounts(t *testing.T) {
	var reported []error
	var mu sync.Mutex
	s := NewSender(localAddr(t), &SenderOptions{QueueSize: 10, OnError: func(err error) {
		if errors.Is(err, ErrQueueFull) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		}
	}})
	accepted := 0
	for i := 0; i < 15; i++ {
		meta, data := testEvent(t, i)
		if s.TrySend(meta, data) {
			accepted++
		}
	}
	if accepted != 10 {
		t.Errorf("accepted %d events, want the queue bound 10", accepted)
	}
	st := s.Stats()
	if st.Dropped != 5 || st.Queued != 10 {
		t.Errorf("stats = %+v, want 10 queued, 5 dropped", st)
	}
	mu.Lock()
	if len(reported) != 1 {
		t.Errorf("queue full reported %d times, want once per stretch of drops", len(reported))
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Close(ctx)
}

func TestSenderQueueBytesBound(t *testing.T) {
	meta, data := testEvent(t, 0)
	size := len(meta) + len(data)
	s := NewSender(localAddr(t), &SenderOptions{QueueBytes: 3*size + size/2})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		s.Close(ctx)
	}()
	n := 0
	for s.TrySend(meta, data) {
		n++
		if n > 10 {
			break
		}
	}
	if n != 3 {
		t.Errorf("queued %d events of %d bytes under a %d-byte bound, want 3", n, size, 3*size+size/2)
	}
}

func TestSenderCloseSaysHowManyWereLost(t *testing.T) {
	s := NewSender(localAddr(t), fastRetry) // nobody listens
	for i := 0; i < 7; i++ {
		meta, data := testEvent(t, i)
		s.TrySend(meta, data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "7 events not sent") {
		t.Fatalf("Close = %v, want an error saying 7 events were not sent", err)
	}
	if st := s.Stats(); st.Lost != 7 || st.Queued != 0 {
		t.Errorf("stats = %+v, want 7 lost", st)
	}
	meta, data := testEvent(t, 8)
	if s.TrySend(meta, data) {
		t.Error("TrySend after Close accepted an event")
	}
	if err := s.Send(context.Background(), meta, data); !errors.Is(err, ErrSenderClosed) {
		t.Errorf("Send after Close = %v, want ErrSenderClosed", err)
	}
}

func TestSenderCloseDrainsTheQueue(t *testing.T) {
	addr := localAddr(t)
	col := startCollector(t, addr)
	s := NewSender(addr, fastRetry)
	const n = 2000
	for i := 0; i < n; i++ {
		meta, data := testEvent(t, i)
		if !s.TrySend(meta, data) {
			t.Fatalf("TrySend %d refused", i)
		}
	}
	if err := closeSender(t, s); err != nil {
		t.Fatal(err)
	}
	col.receive(t, n)
}

func TestSenderSendWaitsForRoom(t *testing.T) {
	addr := localAddr(t)
	s := NewSender(addr, &SenderOptions{QueueSize: 2, MaxBackoff: 50 * time.Millisecond})
	defer closeSender(t, s)
	meta, data := testEvent(t, 0)
	for i := 0; i < 2; i++ {
		if err := s.Send(context.Background(), meta, data); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, meta, data); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send into a full queue = %v, want it to wait until the deadline", err)
	}
	col := startCollector(t, addr)
	for i := 0; i < 20; i++ { // more than the queue holds: each Send waits for room
		if err := s.Send(context.Background(), meta, data); err != nil {
			t.Fatal(err)
		}
	}
	col.receive(t, 22)
	if st := s.Stats(); st.Dropped != 0 {
		t.Errorf("Send dropped %d events", st.Dropped)
	}
}

// A real libzmq PULL peer (pyzmq) receives our frames and decodes them with the
// msgpack and struct modules the original used.
func TestSenderInteropWithLibzmq(t *testing.T) {
	py := testenv.Python(t)
	port := testenv.FreePort(t)
	const n = 20
	script := fmt.Sprintf(`
import json, struct, sys, zmq, msgpack
ctx = zmq.Context()
s = ctx.socket(zmq.PULL)
s.setsockopt(zmq.RCVTIMEO, 20000)
s.bind("tcp://127.0.0.1:%d")
for _ in range(%d):
    meta, data = s.recv_multipart()
    v, end, host, typ = struct.unpack("!Bd64p64p", meta)
    ev = msgpack.unpackb(data, raw=False)
    print(json.dumps({"meta": [v, end, host.decode(), typ.decode()], "event": ev, "data_hex": data.hex()}), flush=True)
`, port, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := NewSender(fmt.Sprintf("127.0.0.1:%d", port), fastRetry)
	for i := 0; i < n; i++ {
		meta, data := testEvent(t, i)
		s.TrySend(meta, data)
	}
	dec := json.NewDecoder(out)
	for i := 0; i < n; i++ {
		var got struct {
			Meta    []any          `json:"meta"`
			Event   map[string]any `json:"event"`
			DataHex string         `json:"data_hex"`
		}
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("event %d from python: %v (stderr: %s)", i, err, stderr.String())
		}
		meta, data := testEvent(t, i)
		m, _ := ParseMeta(meta)
		if got.Meta[0].(float64) != 3 || got.Meta[1].(float64) != m.End || got.Meta[2] != m.Host || got.Meta[3] != m.Type {
			t.Errorf("event %d: python read meta %v, want %+v", i, got.Meta, m)
		}
		if got.DataHex != hex.EncodeToString(data) {
			t.Errorf("event %d: data frame changed on the way", i)
		}
		if got.Event["type"] != "request" || got.Event["body"].(map[string]any)["seq"].(float64) != float64(i) {
			t.Errorf("event %d: python decoded %v", i, got.Event)
		}
	}
	if err := closeSender(t, s); err != nil {
		t.Error(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v: %s", err, stderr.String())
	}
}
