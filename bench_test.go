package ox

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// discardCollector accepts ZMTP PUSH connections and throws the bytes away: a
// collector that costs as little as possible, so a benchmark measures the caller.
func discardCollector(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := zmq4.Open(c, null.Security(), zmq4.Pull, nil, true, nil); err != nil {
					return
				}
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

// BenchmarkRequestEvent records the seed's request example (an event, three Sets,
// a Timeit, a ".db" sub-event with two Sets, both Done) and encodes both events
// into wire frames. A Sender's goroutine writes them to a collector that discards
// them, on the other core: the caller pays for recording and encoding only.
func BenchmarkRequestEvent(b *testing.B) {
	s := NewSender(discardCollector(b), &SenderOptions{QueueSize: 1 << 16})
	ConfigureSender(s)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		Shutdown(ctx)
	}()
	for s.Stats().Connects == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		requestExample(ctx)
	}
	b.StopTimer()
	if st := s.Stats(); st.Dropped > 0 {
		b.Logf("sender dropped %d of %d events (queue full)", st.Dropped, 2*b.N)
	}
}

// BenchmarkRequestEventRecorder is the same with a recorder that keeps nothing:
// no encoding, the Record built and handed over.
func BenchmarkRequestEventRecorder(b *testing.B) {
	SetRecorder(func(Record) {})
	defer SetRecorder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		requestExample(ctx)
	}
}

// BenchmarkRequestEventUnconfigured is the cost of the calls while nothing is
// configured.
func BenchmarkRequestEventUnconfigured(b *testing.B) {
	SetRecorder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		requestExample(ctx)
	}
}
