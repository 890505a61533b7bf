package ox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// This file holds the clients of a collector's control port (REQ/REP) and live
// stream (PUB/SUB) that oxctl, oxview and oxstash share.

// quietLogger silences zmq4's own log lines; the callers report errors themselves.
var quietLogger = log.New(io.Discard, "", 0)

// ControlRequest sends one request to a collector's control port at addr
// ("host:port") and returns the decoded reply. The whole exchange, connecting
// included, is bounded by ctx: with no answer by its deadline the error says so.
// A reply with an "error" key is returned as it is, with no Go error.
func ControlRequest(ctx context.Context, addr string, req map[string]any) (map[string]any, error) {
	body, err := AppendValue(nil, req)
	if err != nil {
		return nil, fmt.Errorf("ox: control request: %w", err)
	}
	reply, err := controlRaw(ctx, addr, body)
	if err != nil {
		return nil, wrongPortOr(ctx, addr, err)
	}
	v, err := Decode(reply)
	if err != nil {
		return nil, wrongPortOr(ctx, addr, fmt.Errorf("ox: control reply from %s: %w", addr, err))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("ox: control reply from %s is a %s, not a map", addr, kindName(v))
	}
	return m, nil
}

// wrongPortOr returns a *WrongPortError when the failed request went to a
// port that is not a control port, err otherwise. It asks the peer with ox's
// own handshake, once the request failed, so a good exchange costs nothing.
func wrongPortOr(ctx context.Context, addr string, err error) error {
	if ctx.Err() != nil {
		// The caller gave up, or nothing answered in time: a collector port of
		// the wrong kind answers the handshake at once, so there is nothing to
		// ask, and no reason to make "no answer" wait longer.
		return err
	}
	if werr := probePeer(context.WithoutCancel(ctx), addr, "REQ"); werr != nil {
		return werr
	}
	return err
}

// controlRaw sends raw request bytes and returns the raw reply.
func controlRaw(ctx context.Context, addr string, body []byte) ([]byte, error) {
	sockCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sock := zmq4.NewReq(sockCtx, zmq4.WithLogger(quietLogger),
		zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(100*time.Millisecond),
		zmq4.WithDialerTimeout(2*time.Second))
	type result struct {
		reply []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		if err := sock.Dial("tcp://" + addr); err != nil {
			done <- result{err: err}
			return
		}
		if err := sock.Send(zmq4.NewMsg(body)); err != nil {
			done <- result{err: err}
			return
		}
		msg, err := sock.Recv()
		if err != nil {
			done <- result{err: err}
			return
		}
		if len(msg.Frames) == 0 {
			done <- result{err: errors.New("empty reply")}
			return
		}
		done <- result{reply: msg.Frames[len(msg.Frames)-1]}
	}()
	select {
	case r := <-done:
		sock.Close()
		if r.err != nil {
			return nil, fmt.Errorf("ox: control %s: %w", addr, r.err)
		}
		return r.reply, nil
	case <-ctx.Done():
		cancel()
		sock.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("ox: control %s: no answer (is oxd running there?): %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("ox: control %s: %w", addr, ctx.Err())
	}
}

// Status asks the collector at addr for its STATUS reply: "last", "lag", "events",
// "hosts" as the original, and ox's counters as extra keys.
func Status(ctx context.Context, addr string) (map[string]any, error) {
	return ControlRequest(ctx, addr, map[string]any{"cmd": "STATUS"})
}

// controlPort asks for a port with a SOCK_STREAM or SOCK_COLLECT request.
func controlPort(ctx context.Context, addr, cmd string) (int, error) {
	reply, err := ControlRequest(ctx, addr, map[string]any{"cmd": cmd})
	if err != nil {
		return 0, err
	}
	if e, ok := reply["error"]; ok {
		return 0, fmt.Errorf("ox: control %s: %s: %v", addr, cmd, e)
	}
	switch p := reply["port"].(type) {
	case int64:
		if p > 0 && p < 65536 {
			return int(p), nil
		}
	}
	return 0, fmt.Errorf("ox: control %s: %s reply has no valid port: %v", addr, cmd, reply)
}

// StreamOption configures Subscribe.
type StreamOption func(*Stream)

// StreamIdleTimeout sets how long a stream may stay silent before it asks the
// control port again and reconnects (default 30s), which is how it follows a
// collector that restarted on another stream port.
func StreamIdleTimeout(d time.Duration) StreamOption {
	return func(s *Stream) { s.idle = d }
}

// StreamErrors sets a function told of each failure to reach the collector (the
// stream keeps retrying); by default they are not reported.
func StreamErrors(f func(error)) StreamOption {
	return func(s *Stream) { s.onErr = f }
}

// Stream is a live subscription to a collector's event stream. It reconnects by
// itself; Next returns events as they arrive. A control address that is
// another kind of port ends it: Next returns the *WrongPortError.
type Stream struct {
	controlAddr string
	prefix      string
	idle        time.Duration
	onErr       func(error)

	events chan streamEvent
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error // why the stream ended by itself; set before done is closed
}

type streamEvent struct {
	typ  string
	data []byte
}

// Subscribe starts a subscription to the events whose type starts with prefix ("" for
// all) on the collector whose control port is controlAddr. The stream port is
// discovered with a SOCK_STREAM request, again after every reconnect. The
// subscription ends when ctx ends or Close is called.
func Subscribe(ctx context.Context, controlAddr, prefix string, opts ...StreamOption) *Stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{
		controlAddr: controlAddr,
		prefix:      prefix,
		idle:        30 * time.Second,
		events:      make(chan streamEvent, 1024),
		cancel:      cancel,
		done:        make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	go s.run(ctx)
	return s
}

// Next returns the next event's type and data frame. It waits until one arrives, ctx
// ends (ctx.Err()) or the stream is closed (io.EOF).
func (s *Stream) Next(ctx context.Context) (typ string, data []byte, err error) {
	select {
	case ev := <-s.events:
		return ev.typ, ev.data, nil
	case <-ctx.Done():
		return "", nil, ctx.Err()
	case <-s.done:
		if s.err != nil {
			return "", nil, s.err
		}
		return "", nil, io.EOF
	}
}

// Close ends the subscription.
func (s *Stream) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *Stream) report(err error) {
	if s.onErr != nil && err != nil {
		s.onErr(err)
	}
}

func (s *Stream) run(ctx context.Context) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		got, err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		var wrong *WrongPortError
		if errors.As(err, &wrong) {
			s.err = err // retrying cannot help: Next says so
			return
		}
		s.report(err)
		if got {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session connects once and relays events until the connection fails or stays idle.
// It reports whether any event arrived.
func (s *Stream) session(ctx context.Context) (bool, error) {
	askCtx, cancelAsk := context.WithTimeout(ctx, 5*time.Second)
	port, err := controlPort(askCtx, s.controlAddr, "SOCK_STREAM")
	cancelAsk()
	if err != nil {
		return false, err
	}
	host, _, err := net.SplitHostPort(s.controlAddr)
	if err != nil {
		return false, fmt.Errorf("ox: stream: %w", err)
	}
	endpoint := "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))

	sockCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := zmq4.NewSub(sockCtx, zmq4.WithLogger(quietLogger), zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(5*time.Second))
	defer sub.Close()
	if err := sub.Dial(endpoint); err != nil {
		return false, fmt.Errorf("ox: stream %s: %w", endpoint, err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, s.prefix); err != nil {
		return false, fmt.Errorf("ox: stream %s: subscribe: %w", endpoint, err)
	}

	msgs := make(chan zmq4.Msg)
	go func() {
		defer close(msgs)
		for {
			m, err := sub.Recv()
			if err != nil {
				select {
				case msgs <- zmq4.Msg{}:
				case <-sockCtx.Done():
				}
				return
			}
			select {
			case msgs <- m:
			case <-sockCtx.Done():
				return
			}
		}
	}()

	got := false
	idle := time.NewTimer(s.idle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return got, nil
		case <-idle.C:
			return got, nil
		case m, ok := <-msgs:
			if !ok || len(m.Frames) == 0 {
				return got, fmt.Errorf("ox: stream %s: connection lost", endpoint)
			}
			if len(m.Frames) != 2 {
				continue
			}
			got = true
			idle.Reset(s.idle)
			select {
			case s.events <- streamEvent{typ: string(m.Frames[0]), data: m.Frames[1]}:
			case <-ctx.Done():
				return got, nil
			}
		}
	}
}
