package ox

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
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

// discardConn is a connection whose writes vanish at once: a Sender on it drains
// its queue through its own goroutine, framing and buffering as usual, without a
// kernel or a peer competing for the two cores.
type discardConn struct {
	net.Conn // nil: only the methods below are used
	closed   chan struct{}
	once     sync.Once
}

func (c *discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *discardConn) Read(p []byte) (int, error) {
	<-c.closed
	return 0, io.EOF
}
func (c *discardConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func dialDiscard(context.Context, string) (*senderConn, error) {
	conn := &discardConn{closed: make(chan struct{})}
	c := &senderConn{conn: conn, dead: make(chan struct{})}
	go func() {
		io.Copy(io.Discard, conn)
		close(c.dead)
	}()
	return c, nil
}

// BenchmarkRequestEvent records the seed's request example (an event, three Sets,
// a Timeit, a ".db" sub-event with two Sets, both Done) and encodes both events
// into wire frames. A Sender's goroutine drains them (framing, buffering) into a
// connection that discards them: the caller pays for recording and encoding only.
func BenchmarkRequestEvent(b *testing.B) {
	benchmarkRequestEvent(b, newSender("discard", &SenderOptions{QueueSize: 1 << 16}, dialDiscard))
}

// BenchmarkRequestEventTCP is BenchmarkRequestEvent with the Sender writing to a
// real ZMTP peer over loopback TCP that discards what it reads: the kernel and the
// peer share the two cores with the caller.
func BenchmarkRequestEventTCP(b *testing.B) {
	benchmarkRequestEvent(b, NewSender(discardCollector(b), &SenderOptions{QueueSize: 1 << 16}))
}

func benchmarkRequestEvent(b *testing.B, s *Sender) {
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
	measureCPU(b, func() {
		for i := 0; i < b.N; i++ {
			requestExample(ctx)
		}
	})
	if st := s.Stats(); st.Dropped > 0 {
		b.Logf("sender dropped %d of %d events (queue full)", st.Dropped, 2*b.N)
	}
}

// measureCPU runs loop on a locked thread and reports, besides the wall time, the
// CPU time per operation of the calling goroutine ("caller-cpu-ns/op": what the
// application pays) and of the whole process ("cpu-ns/op": the Sender's goroutine
// and the garbage collector included). Unlike ns/op they do not grow when other
// programs load the machine.
func measureCPU(b *testing.B, loop func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, p0, ok := cpuTimes()
	b.ResetTimer()
	loop()
	b.StopTimer()
	if t1, p1, ok2 := cpuTimes(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(t1-t0)/float64(b.N), "caller-cpu-ns/op")
		b.ReportMetric(float64(p1-p0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkRequestEventRecorder is the same with a recorder that keeps nothing:
// no encoding, the Record built and handed over.
func BenchmarkRequestEventRecorder(b *testing.B) {
	SetRecorder(func(Record) {})
	defer SetRecorder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	measureCPU(b, func() {
		for i := 0; i < b.N; i++ {
			requestExample(ctx)
		}
	})
}

// BenchmarkRequestEventUnconfigured is the cost of the calls while nothing is
// configured.
func BenchmarkRequestEventUnconfigured(b *testing.B) {
	SetRecorder(nil)
	ctx := context.Background()
	b.ReportAllocs()
	measureCPU(b, func() {
		for i := 0; i < b.N; i++ {
			requestExample(ctx)
		}
	})
}

// BenchmarkMiddleware serves a small request in-process, bare and through
// Middleware (unconfigured, and sending to a discarding collector); the
// difference is the middleware's cost per request.
func BenchmarkMiddleware(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})
	req := httptest.NewRequest("GET", "http://example.com/hello?name=ada", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	for k, v := range map[string]string{
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Accept": "text/html", "Accept-Encoding": "gzip",
		"Accept-Language": "en", "Cookie": "session=secret", "Authorization": "Bearer secret",
	} {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		measureCPU(b, func() {
			for i := 0; i < b.N; i++ {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
	// over serves real requests from a keep-alive client over loopback TCP.
	over := func(b *testing.B, h http.Handler) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		lreq, _ := http.NewRequest("GET", srv.URL+"/hello?name=ada", nil)
		lreq.Header = req.Header
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			resp, err := client.Do(lreq)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	sending := func(b *testing.B) {
		s := newSender("discard", &SenderOptions{QueueSize: 1 << 16}, dialDiscard)
		ConfigureSender(s)
		b.Cleanup(func() { Shutdown(context.Background()) })
	}
	b.Run("bare", func(b *testing.B) { run(b, hello) })
	b.Run("unconfigured", func(b *testing.B) {
		SetRecorder(nil)
		run(b, Middleware(hello, nil))
	})
	b.Run("sending", func(b *testing.B) {
		sending(b)
		run(b, Middleware(hello, nil))
	})
	b.Run("loopback-bare", func(b *testing.B) {
		SetRecorder(nil)
		over(b, hello)
	})
	b.Run("loopback-sending", func(b *testing.B) {
		sending(b)
		over(b, Middleware(hello, nil))
	})
}

// discardWriter is a ResponseWriter that keeps nothing, cheaper than
// httptest.ResponseRecorder, so that the benchmark shows the middleware.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
