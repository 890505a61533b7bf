package peerbench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The values the request example records.
const (
	userAgent = "Mozilla/5.0 (X11; Linux x86_64)"
	query     = "select * from users where id = %s"
)

// BenchmarkRequest does the README's request example with each logger: a request
// record with four fields (user_agent, request_time from a timer,
// response.status, response.size) and a "request.db" record with two (query,
// row_count). The loggers write JSON to io.Discard, each in its cheapest form
// (typed fields, flat keys, a timestamp and a level, no caller); ox encodes its
// two events (ids, start and end times, nested body) into wire frames and queues
// them on a Sender whose goroutine frames them into a connection that discards
// them, so the caller pays what it would pay with a real collector.
func BenchmarkRequest(b *testing.B) {
	ctx := context.Background()
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(io.Discard, nil))
		run(b, func() { slogRequest(ctx, l) })
	})
	b.Run("zap", func(b *testing.B) {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		l := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
		run(b, func() { zapRequest(l) })
	})
	b.Run("zerolog", func(b *testing.B) {
		l := zerolog.New(io.Discard).With().Timestamp().Logger()
		run(b, func() { zerologRequest(&l) })
	})
	b.Run("ox", func(b *testing.B) {
		s := ox.NewSender("discard", &ox.SenderOptions{QueueSize: 1 << 16, Dial: dialDiscard(b)})
		ox.ConfigureSender(s)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ox.Shutdown(ctx)
		}()
		for s.Stats().Connects == 0 {
			time.Sleep(time.Millisecond)
		}
		run(b, func() { oxRequest(ctx) })
		if st := s.Stats(); st.Dropped > 0 {
			b.Errorf("sender dropped %d events (queue full): the figure is too good", st.Dropped)
		}
	})
}

func slogRequest(ctx context.Context, l *slog.Logger) {
	start := time.Now()
	l.LogAttrs(ctx, slog.LevelInfo, "request.db", slog.String("query", query), slog.Int("row_count", 1))
	elapsed := time.Since(start).Seconds()
	l.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("user_agent", userAgent), slog.Float64("request_time", elapsed),
		slog.Int("response.status", 200), slog.Int("response.size", 5120))
}

func zapRequest(l *zap.Logger) {
	start := time.Now()
	l.Info("request.db", zap.String("query", query), zap.Int("row_count", 1))
	elapsed := time.Since(start).Seconds()
	l.Info("request",
		zap.String("user_agent", userAgent), zap.Float64("request_time", elapsed),
		zap.Int("response.status", 200), zap.Int("response.size", 5120))
}

func zerologRequest(l *zerolog.Logger) {
	start := time.Now()
	l.Info().Str("query", query).Int("row_count", 1).Msg("request.db")
	elapsed := time.Since(start).Seconds()
	l.Info().Str("user_agent", userAgent).Float64("request_time", elapsed).
		Int("response.status", 200).Int("response.size", 5120).Msg("request")
}

// oxRequest is requestExample of the ox package's tests.
func oxRequest(ctx context.Context) {
	ctx, ev := ox.Start(ctx, "request")
	defer ev.Done()
	ev.Set("user_agent", userAgent)
	stop := ev.Timeit("request_time")
	func() {
		ctx, db := ox.Start(ctx, ".db")
		defer db.Done()
		ox.Set(ctx, "query", query)
		ox.Set(ctx, "row_count", 1)
	}()
	stop()
	ev.Set("response.status", 200)
	ev.Set("response.size", 5120)
}

// run runs op b.N times on a locked thread and reports, besides the wall time,
// the CPU time per operation of the calling goroutine ("caller-cpu-ns/op": what
// the application pays) and of the whole process ("cpu-ns/op": ox's sending
// goroutine and the garbage collector included), as the ox package's benchmarks
// do.
func run(b *testing.B, op func()) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, p0, ok := cpuTimes()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
	b.StopTimer()
	if t1, p1, ok2 := cpuTimes(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(t1-t0)/float64(b.N), "caller-cpu-ns/op")
		b.ReportMetric(float64(p1-p0)/float64(b.N), "cpu-ns/op")
	}
}

// dialDiscard returns a Sender dial function giving a connection that plays a
// ZMTP PULL collector's side of the handshake from a recording and discards
// everything written to it: the Sender's goroutine frames and flushes as usual,
// with no kernel or peer process sharing the cores.
func dialDiscard(tb testing.TB) func(context.Context, string) (net.Conn, error) {
	script := pullHandshake(tb)
	return func(context.Context, string) (net.Conn, error) {
		return &discardConn{script: script, closed: make(chan struct{})}, nil
	}
}

// pullHandshake records what a zmq4 PULL peer sends during the handshake with a
// PUSH peer, over a loopback connection.
func pullHandshake(tb testing.TB) []byte {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	rec := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			rec <- nil
			return
		}
		defer c.Close()
		r := &recordingConn{Conn: c}
		if _, err := zmq4.Open(r, null.Security(), zmq4.Pull, nil, true, nil); err != nil {
			rec <- nil
			return
		}
		rec <- r.written
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if _, err := zmq4.Open(c, null.Security(), zmq4.Push, nil, false, nil); err != nil {
		tb.Fatal(err)
	}
	script := <-rec
	if script == nil {
		tb.Fatal("recording the PULL side of a ZMTP handshake failed")
	}
	return script
}

type recordingConn struct {
	net.Conn
	written []byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.written = append(c.written, p...)
	return c.Conn.Write(p)
}

// discardConn reads as its script, then blocks until closed; writes vanish.
type discardConn struct {
	net.Conn // nil: only the methods below are used
	script   []byte
	closed   chan struct{}
	once     sync.Once
}

func (c *discardConn) Write(p []byte) (int, error) { return len(p), nil }

func (c *discardConn) Read(p []byte) (int, error) {
	if len(c.script) > 0 {
		n := copy(p, c.script)
		c.script = c.script[n:]
		return n, nil
	}
	<-c.closed
	return 0, io.EOF
}

func (c *discardConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }
func (c *discardConn) LocalAddr() net.Addr              { return discardAddr{} }
func (c *discardConn) RemoteAddr() net.Addr             { return discardAddr{} }

type discardAddr struct{}

func (discardAddr) Network() string { return "discard" }
func (discardAddr) String() string  { return "discard" }
