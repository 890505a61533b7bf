package ox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a Sender's queue and reconnection.
const (
	DefaultQueueSize  = 3500     // events, as the original client
	DefaultQueueBytes = 64 << 20 // bytes of queued frames
	DefaultMaxBackoff = 2 * time.Second
)

// ErrQueueFull is reported (through SenderOptions.OnError) when a Sender drops an
// event because its queue is full, once per stretch of drops.
var ErrQueueFull = errors.New("ox: send queue full, event dropped")

// ErrSenderClosed is returned by Send after Close.
var ErrSenderClosed = errors.New("ox: sender closed")

// SenderOptions tunes a Sender. The zero value (or nil) means the defaults.
type SenderOptions struct {
	QueueSize  int           // most events waiting to be sent; 0 means DefaultQueueSize
	QueueBytes int           // most bytes of frames waiting; 0 means DefaultQueueBytes
	MaxBackoff time.Duration // longest wait between connection attempts; 0 means DefaultMaxBackoff
	// OnError, when set, hears about connection failures and drops. An address
	// that is another kind of collector port (the control port, say) is reported
	// once as a *WrongPortError; the Sender keeps trying at its longest backoff,
	// in case the port changes hands. It is called from the sender's goroutine
	// (connection errors) or from the goroutine whose event was dropped, and
	// must not block.
	OnError func(error)
	// Dial, when set, opens the connection to the collector instead of a TCP dial
	// to the address: a Unix socket, a tunnel, or an in-process pipe to a peer that
	// discards what it reads (benchmarks). The Sender still does the ZMTP
	// handshake over the connection it returns. Close's proof of delivery (a
	// half-close, then the collector closing its side) needs a connection with a
	// CloseWrite method, as TCP and Unix connections have.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// SenderStats is a snapshot of a Sender's counters.
type SenderStats struct {
	Queued      int    // events waiting now
	QueuedBytes int    // bytes waiting now
	Sent        uint64 // events written to a collector connection and flushed
	Dropped     uint64 // events refused because the queue was full or the sender closed
	Lost        uint64 // events still queued when Close gave up
	Connects    uint64 // successful connections, the first included
	Reconnects  uint64 // connections after the first: collector restarts, network breaks
	Disconnects uint64 // connections lost
	Connected   bool   // a connection is up now
}

// Sender PUSHes events (a meta frame and a data frame each) to a BlueOx collector's
// collection port, the way the original client did, without ever making the caller
// wait on the network.
//
// Events go into a bounded queue. One goroutine owns the TCP connection: it connects
// in the background, retrying with exponential backoff, so an application may start
// before its collector; it notices a collector that goes away by reading the
// connection, and reconnects. An event leaves the queue only once its bytes were
// written and flushed to the kernel without error; a failed write leaves it at the
// head of the queue to be sent on the next connection.
//
// What can still be lost: ZeroMQ PUSH/PULL has no acknowledgement, so the events
// whose bytes were in flight (in the kernel's socket buffers, or read by the
// collector but not yet stored) when a collector dies or restarts are gone, as with
// the original. On a graceful Close, the Sender half-closes the connection and waits
// for the collector to close its side, which proves the collector read everything.
// oxd's spooled, acknowledged forwarding is the mode for links where that matters.
//
// The Sender speaks ZMTP 3.0 with the NULL mechanism itself (ox's own handshake,
// peer.go, which also learns the peer's socket type) rather than using a zmq4 PUSH
// socket, because a PUSH socket's Dial fails while the peer is down and, once its
// connection has closed, its Send succeeds while writing to no one.
type Sender struct {
	addr       string
	queueSize  int
	queueBytes int
	maxBackoff time.Duration
	onError    func(error)
	dial       func(context.Context, string) (*senderConn, error)

	mu      sync.Mutex
	q       []*chunk // queued events in chunks, oldest first; the last may be open
	open    *chunk   // the chunk new events are appended to (nil: start one)
	n       int      // events queued
	bytes   int      // their meta and data bytes
	closing bool
	idle    bool          // the writer found the queue empty: the next event wakes it
	room    chan struct{} // closed when the writer frees room; nil when no one waits
	wake    chan struct{} // cap 1: work for the writer

	abortCtx context.Context // ends when Close gives up
	abort    context.CancelFunc
	done     chan struct{} // closed when the writer goroutine has returned

	sent, dropped, lost    atomic.Uint64
	connects, disconnects  atomic.Uint64
	connected, dropStretch atomic.Bool
}

// chunk is a run of queued events, each framed as a two-part ZMTP message, that
// the writer hands to the connection as it is: no copy and no framing on the
// way out. Events are copied into the open chunk under the Sender's lock; the
// writer seals the chunks it takes (s.open no longer points at them), so nothing
// is appended to a chunk while it is written.
type chunk struct {
	buf    []byte
	events int
	size   int // the events' meta and data bytes, as the queue's bound counts them
}

// chunkSize is the size of the chunks events are gathered in (an event larger
// than that gets a chunk of its own size). Written chunks of this size go back to
// chunkPool for reuse.
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, chunkSize)} }}

// NewSender returns a Sender for the collection address addr ("host:port"; see
// CollectAddr) and starts its goroutine, which connects in the background. Close
// it to flush and release it.
func NewSender(addr string, opts *SenderOptions) *Sender {
	dial := dialSender
	if opts != nil && opts.Dial != nil {
		custom := opts.Dial
		dial = func(ctx context.Context, addr string) (*senderConn, error) {
			conn, err := custom(ctx, addr)
			if err != nil {
				return nil, fmt.Errorf("ox: connect to collector %s: %w", addr, err)
			}
			return openSender(conn, addr)
		}
	}
	return newSender(addr, opts, dial)
}

// newSender is NewSender with the connection made by dial (tests and benchmarks
// replace the network).
func newSender(addr string, opts *SenderOptions, dial func(context.Context, string) (*senderConn, error)) *Sender {
	var o SenderOptions
	if opts != nil {
		o = *opts
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	s := &Sender{
		addr:       addr,
		queueSize:  o.QueueSize,
		queueBytes: o.QueueBytes,
		maxBackoff: o.MaxBackoff,
		onError:    o.OnError,
		dial:       dial,
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	s.abortCtx, s.abort = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Addr returns the collection address the Sender sends to.
func (s *Sender) Addr() string { return s.addr }

// TrySend queues one event, copying meta and data (the caller may reuse them). It
// never blocks: when the queue is full, or the Sender is closed, the event is
// dropped, counted, and TrySend returns false.
func (s *Sender) TrySend(meta, data []byte) bool {
	return s.enqueue(meta, data)
}

// Send queues one event like TrySend but waits for room when the queue is full,
// until ctx ends: backpressure for producers that can slow down (oxingest). It
// returns ErrSenderClosed after Close, or ctx's error.
func (s *Sender) Send(ctx context.Context, meta, data []byte) error {
	size := len(meta) + len(data)
	for {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			s.dropped.Add(1)
			return ErrSenderClosed
		}
		if s.fits(size) {
			s.push(meta, data)
			idle := s.idle
			s.idle = false
			s.mu.Unlock()
			if idle {
				s.signal()
			}
			return nil
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("ox: send to %s: %w", s.addr, ctx.Err())
		}
	}
}

// enqueue queues a copy of an event's frames without blocking.
func (s *Sender) enqueue(meta, data []byte) bool {
	s.mu.Lock()
	if s.closing || !s.fits(len(meta)+len(data)) {
		closing := s.closing
		s.mu.Unlock()
		s.dropped.Add(1)
		if !closing && !s.dropStretch.Swap(true) {
			s.report(fmt.Errorf("%w (sending to %s)", ErrQueueFull, s.addr))
		}
		return false
	}
	s.push(meta, data)
	idle := s.idle
	s.idle = false
	s.mu.Unlock()
	if s.dropStretch.Load() {
		s.dropStretch.Store(false)
	}
	if idle {
		s.signal()
	}
	return true
}

// fits reports whether an event of size bytes has room; s.mu is held. An event
// larger than the byte bound still goes into an empty queue, so that no event is
// refused forever.
func (s *Sender) fits(size int) bool {
	return s.n < s.queueSize && (s.bytes+size <= s.queueBytes || s.n == 0)
}

// push appends an event to the open chunk, framed for the wire; s.mu is held.
func (s *Sender) push(meta, data []byte) {
	need := 9 + len(meta) + 9 + len(data) // at most, with long frame headers
	c := s.open
	if c == nil || len(c.buf)+need > cap(c.buf) {
		c = s.newChunk(need)
		s.q = append(s.q, c)
		s.open = c
	}
	c.buf = frameHeader(c.buf, len(meta), true)
	c.buf = append(c.buf, meta...)
	c.buf = frameHeader(c.buf, len(data), false)
	c.buf = append(c.buf, data...)
	size := len(meta) + len(data)
	c.events++
	c.size += size
	s.n++
	s.bytes += size
}

// newChunk returns an empty chunk with room for need bytes; s.mu is held.
func (s *Sender) newChunk(need int) *chunk {
	if need <= chunkSize {
		return chunkPool.Get().(*chunk)
	}
	return &chunk{buf: make([]byte, 0, need)}
}

// release removes the first k chunks, written, from the queue and gives them
// back for reuse; s.mu is held.
func (s *Sender) release(k int) {
	for _, c := range s.q[:k] {
		s.n -= c.events
		s.bytes -= c.size
		if c == s.open {
			s.open = nil
		}
		if cap(c.buf) == chunkSize {
			c.buf, c.events, c.size = c.buf[:0], 0, 0
			chunkPool.Put(c)
		}
	}
	m := copy(s.q, s.q[k:])
	clear(s.q[m:])
	s.q = s.q[:m]
}

func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sender) report(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}

// Stats returns a snapshot of the Sender's counters.
func (s *Sender) Stats() SenderStats {
	s.mu.Lock()
	st := SenderStats{Queued: s.n, QueuedBytes: s.bytes}
	s.mu.Unlock()
	st.Sent = s.sent.Load()
	st.Dropped = s.dropped.Load()
	st.Lost = s.lost.Load()
	st.Connects = s.connects.Load()
	if st.Connects > 1 {
		st.Reconnects = st.Connects - 1
	}
	st.Disconnects = s.disconnects.Load()
	st.Connected = s.connected.Load()
	return st
}

// Close stops accepting events and sends what is queued until ctx ends. It returns
// nil when everything queued was sent, and otherwise an error saying how many
// events were lost. Close waits for ctx: give it a deadline (the original client
// allowed 2 s) or it waits for the collector forever.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closing
	s.closing = true
	if s.room != nil {
		close(s.room) // wake blocked Sends so they see closing
		s.room = nil
	}
	s.mu.Unlock()
	s.signal()
	if already {
		<-s.done
		return nil
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abort()
		<-s.done
	}
	s.abort()
	s.mu.Lock()
	lost := s.n
	s.release(len(s.q))
	s.mu.Unlock()
	if lost > 0 {
		s.lost.Add(uint64(lost))
		return fmt.Errorf("ox: close sender to %s: %d events not sent: %w", s.addr, lost, ctx.Err())
	}
	return nil
}

// Batches written at once, and the writer's timing.
const (
	maxBatchBytes  = 256 << 10
	dialTimeout    = 5 * time.Second
	minBackoff     = 20 * time.Millisecond
	reconnectDelay = 100 * time.Millisecond
	linger         = 200 * time.Microsecond
	closeWait      = time.Second // for a collector to confirm it read everything
)

// run is the writer goroutine: it owns the connection.
func (s *Sender) run() {
	defer close(s.done)
	var (
		c         *senderConn
		redial    bool   // c was lost: wait before dialing again
		lastWrong string // the wrong-port error reported last, said once
		backoff   = minBackoff
		batch     []*chunk
	)
	defer func() {
		if c != nil {
			c.conn.Close()
			s.connected.Store(false)
		}
	}()
	for {
		if s.abortCtx.Err() != nil {
			return
		}
		if c == nil {
			if s.isClosing() && s.queued() == 0 {
				return
			}
			if redial {
				// A collector that is shutting down may still accept (zmq4 closes
				// its connections before its listener) and then never read; give
				// it a moment to be gone before knocking again.
				redial = false
				if !s.sleep(reconnectDelay/2 + rand.N(reconnectDelay/2)) {
					return
				}
			}
			var err error
			c, err = s.dial(s.abortCtx, s.addr)
			if err != nil {
				if s.abortCtx.Err() != nil {
					return
				}
				var wrong *WrongPortError
				if errors.As(err, &wrong) {
					// Say it once; it stays wrong until the port changes hands.
					if err.Error() != lastWrong {
						s.report(err)
					}
					lastWrong, backoff = err.Error(), s.maxBackoff
				} else {
					lastWrong = ""
					s.report(err)
				}
				// Full jitter keeps many clients from reconnecting in step.
				wait := backoff/2 + rand.N(backoff/2+1)
				backoff = min(backoff*2, s.maxBackoff)
				if !s.sleep(wait) {
					return
				}
				continue
			}
			backoff = minBackoff
			s.connects.Add(1)
			s.connected.Store(true)
		}

		batch = s.peek(batch[:0])
		if len(batch) == 0 {
			if s.isClosing() {
				s.closeGracefully(c)
				c = nil
				return
			}
			select {
			case <-s.wake:
				// Let a few more events arrive, so that a busy application wakes
				// this goroutine once per batch rather than once per event.
				if !s.isClosing() && !s.sleep(linger) {
					return
				}
			case <-c.dead:
				s.drop(c, c.err)
				c, redial = nil, true
			case <-s.abortCtx.Done():
				return
			}
			continue
		}
		select {
		case <-c.dead:
			s.drop(c, c.err)
			c, redial = nil, true
			continue
		default:
		}
		if err := c.write(batch); err != nil {
			s.drop(c, err)
			c, redial = nil, true
			continue // the batch is still at the head of the queue
		}
		events := 0
		for _, ch := range batch {
			events += ch.events
		}
		s.mu.Lock()
		s.release(len(batch))
		if s.room != nil {
			close(s.room)
			s.room = nil
		}
		s.mu.Unlock()
		s.sent.Add(uint64(events))
		clear(batch)
	}
}

// sleep waits for d, or returns false when Close gives up first.
func (s *Sender) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.abortCtx.Done():
		return false
	}
}

func (s *Sender) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Sender) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// peek appends the chunks at the head of the queue to batch, sealing them,
// without removing them: their events leave the queue only once written.
func (s *Sender) peek(batch []*chunk) []*chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := 0
	for _, c := range s.q {
		if len(batch) > 0 && size+len(c.buf) > maxBatchBytes {
			break
		}
		size += len(c.buf)
		batch = append(batch, c)
		if c == s.open {
			s.open = nil
		}
	}
	s.idle = len(batch) == 0
	return batch
}

// drop closes a connection that failed.
func (s *Sender) drop(c *senderConn, err error) {
	c.conn.Close()
	s.connected.Store(false)
	s.disconnects.Add(1)
	if err == nil {
		err = io.EOF
	}
	s.report(fmt.Errorf("ox: connection to collector %s lost: %w", s.addr, err))
}

// closeGracefully half-closes c and waits (up to closeWait) for the collector to
// close its side: a PULL peer closes only after reading everything before our FIN,
// so this proves delivery to the collector process of every byte written.
func (s *Sender) closeGracefully(c *senderConn) {
	// TCP and Unix connections can half-close; others (from SenderOptions.Dial)
	// are closed at once.
	if hc, ok := c.conn.(interface{ CloseWrite() error }); ok {
		if hc.CloseWrite() == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-c.dead:
			case <-t.C:
			case <-s.abortCtx.Done():
			}
			t.Stop()
		}
	}
	c.conn.Close()
	s.connected.Store(false)
}

// senderConn is one ZMTP connection to a collector.
type senderConn struct {
	conn net.Conn
	dead chan struct{} // closed when the reader sees the connection end
	err  error         // why, set before dead is closed
	bufs net.Buffers   // write's list of chunks, reused
}

func dialSender(ctx context.Context, addr string) (*senderConn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ox: connect to collector %s: %w", addr, err)
	}
	return openSender(conn, addr)
}

// openSender does the ZMTP handshake as a PUSH peer over conn and starts the
// reader that notices when the collector goes away.
func openSender(conn net.Conn, addr string) (*senderConn, error) {
	conn.SetDeadline(time.Now().Add(dialTimeout))
	peer, err := zmtpHandshake(conn, "PUSH")
	if err == nil {
		err = checkPeer(addr, "PUSH", peer)
	}
	if err != nil {
		conn.Close()
		var wrong *WrongPortError
		if errors.As(err, &wrong) {
			return nil, err
		}
		return nil, fmt.Errorf("ox: ZMTP handshake with collector %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	c := &senderConn{conn: conn, dead: make(chan struct{})}
	go func() {
		// A PULL peer sends nothing after the handshake; reading tells us at once
		// when it closes or resets the connection.
		_, err := io.Copy(io.Discard, conn)
		c.err = err
		close(c.dead)
	}()
	return c, nil
}

// write writes the chunks of batch, in one writev system call on TCP.
func (c *senderConn) write(batch []*chunk) error {
	c.bufs = c.bufs[:0]
	for _, ch := range batch {
		c.bufs = append(c.bufs, ch.buf)
	}
	bufs := c.bufs
	_, err := bufs.WriteTo(c.conn)
	clear(c.bufs)
	return err
}

// frameHeader appends a ZMTP 3.0 message frame header: flags (MORE, LONG) then a
// 1-byte or 8-byte big-endian size.
func frameHeader(dst []byte, size int, more bool) []byte {
	var flags byte
	if more {
		flags |= 0x01
	}
	if size > 255 {
		flags |= 0x02
		dst = append(dst, flags)
		return binary.BigEndian.AppendUint64(dst, uint64(size))
	}
	return append(dst, flags, byte(size))
}
