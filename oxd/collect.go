package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// event is one good message from the collection port.
type event struct {
	meta, data []byte // the frames as received, forwarded unchanged
	typ, host  string // from the meta frame; typ names the file
	end        float64
	slab       *slab // the slab data lives in (nil: memory of its own); see slab.go
}

// batch is what a source hands the collection loop. done, when set, runs after
// every event of the batch has been published, queued for forwarding and written
// to its file and flushed to the operating system: an acknowledging receiver
// (spooled forwarding) answers its sender from there.
type batch struct {
	events []event
	done   func()
	slabs  []*slab // the batch's references to the slabs its frames live in
	// free, when set, takes events back for reuse once the batch is handled.
	free chan<- []event
}

// Reasons a message is dropped, as STATUS reports them under "dropped".
type reason int

const (
	dropFrames      reason = iota // not exactly two frames
	dropMetaSize                  // meta frame not 137 bytes
	dropMetaVersion               // meta frame version not 3
	dropMetaName                  // meta frame host/type length byte over 63
	dropTypeName                  // type name unsafe as a file name
	dropNotMsgpack                // data frame is not MessagePack
	dropTruncated                 // data frame ends inside a value
	dropTrailing                  // bytes after the data frame's map
	dropNotMap                    // data frame is MessagePack but not a map
	dropTooLarge                  // message over --max-event-bytes
	dropProtocol                  // ZMTP violation: the connection was closed
	dropHandshake                 // a connection that never completed the handshake
	dropPanic                     // serving the connection panicked: it was closed
	dropBusy                      // a large message found no room in the shared bound on incomplete messages; the connection was closed
	nReasons
)

var reasonNames = [nReasons]string{
	"frames", "meta_size", "meta_version", "meta_name", "type_name", "not_msgpack",
	"truncated", "trailing_bytes", "not_map", "too_large", "protocol", "handshake",
	"panic", "busy",
}

// checkMessage validates the frames of one message as PROTOCOL.md §2 describes. The
// data frame must be exactly one MessagePack map; its own "type" key is not read: the
// meta frame names the file, as in the original, so routing never decodes the body.
func checkMessage(frames [][]byte) (event, reason, error) {
	if len(frames) != 2 {
		return event{}, dropFrames, nil
	}
	m, err := ox.ParseMeta(frames[0])
	switch {
	case errors.Is(err, ox.ErrMetaSize):
		return event{}, dropMetaSize, err
	case errors.Is(err, ox.ErrMetaVersion):
		return event{}, dropMetaVersion, err
	case err != nil:
		return event{}, dropMetaName, err
	}
	if err := ox.ValidTypeName(m.Type); err != nil {
		return event{}, dropTypeName, err
	}
	if r, err := checkData(frames[1]); err != nil {
		return event{}, r, err
	}
	return event{meta: frames[0], data: frames[1], typ: m.Type, host: m.Host, end: m.End}, 0, nil
}

var (
	errNotMap   = errors.New("data frame is not a MessagePack map")
	errTrailing = errors.New("bytes after the data frame's map")
)

func checkData(d []byte) (reason, error) {
	n, err := ox.ValueLen(d)
	switch {
	case errors.Is(err, ox.ErrTruncated):
		return dropTruncated, err
	case err != nil:
		return dropNotMsgpack, err
	}
	if c := d[0]; !(c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf) {
		return dropNotMap, errNotMap
	}
	if n != len(d) {
		return dropTrailing, errTrailing
	}
	return 0, nil
}

// collector accepts PUSH connections on the collection port and hands batches of
// validated events to out. Each connection is read by its own goroutine; when the
// loop falls behind, reads stop and TCP pushes back on the senders (as a ZeroMQ PULL
// socket at its high-water mark does), so nothing received is dropped for lack of room.
type collector struct {
	l        net.Listener
	out      chan<- batch
	maxEvent int
	log      *slog.Logger
	badLog   *rateLog

	// drainIdle and drainMax bound how long connections are read after shutdown
	// starts: until idle for drainIdle, at most drainMax.
	drainIdle, drainMax time.Duration

	maxConns int        // connections at once, handshakes included
	track    *connTrack // the open connections; at maxConns the longest-idle goes
	onPanic  panicHandler
	idle     time.Duration // a connection that completes no message for this long is closed
	budget   *zmtp.Budget  // memory of incomplete messages, over every connection

	slabs  *slabPool    // frame memory, shared by the connections
	evFree chan []event // handled batches' event slices, for reuse

	dropped  [nReasons]atomic.Uint64
	conns    atomic.Int64 // connections past the handshake
	accepted atomic.Int64 // connections open, handshakes included
	refused  atomic.Uint64

	wg sync.WaitGroup
}

// A connection hands over a batch at 256 events or 256 KiB, or whenever it has no
// more input buffered; with at most 8 batches waiting, the events between the
// sockets and the loop stay within a few MiB.
const (
	batchMax      = 256
	batchMaxBytes = 256 << 10
)

func newCollector(addr string, out chan<- batch, maxEvent, maxConns int, log *slog.Logger) (*collector, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &collector{
		l:         l,
		out:       out,
		maxEvent:  maxEvent,
		maxConns:  maxConns,
		track:     newConnTrack(maxConns),
		idle:      collectIdle,
		budget:    zmtp.NewBudget(incompleteBudget(maxEvent), 5*time.Second),
		log:       log,
		badLog:    newRateLog(log, 10*time.Second),
		drainIdle: 250 * time.Millisecond,
		drainMax:  3 * time.Second,
		slabs:     newSlabPool(64),
		evFree:    make(chan []event, 16),
	}, nil
}

// Port is the bound collection port.
func (c *collector) Port() int { return c.l.Addr().(*net.TCPAddr).Port }

// Run accepts connections until ctx ends, then reads what the open connections
// still deliver (see drainIdle), and returns once every reader has handed over its
// last batch.
func (c *collector) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { c.l.Close() })
	defer stop()
	for {
		nc, err := c.l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			c.badLog.Warn("accept", "collect: accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e, evicted := c.track.admit(nc)
		if e == nil {
			c.refused.Add(1)
			nc.Close()
			continue
		}
		if evicted != nil {
			c.badLog.Warn("maxconns", "collect: at the connection limit; closed the longest-idle connection for a new one",
				"closed", evicted.RemoteAddr(), "from", nc.RemoteAddr(), "max", c.maxConns)
		}
		c.accepted.Add(1)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer c.accepted.Add(-1)
			defer c.track.remove(nc)
			defer catchPanic(c.onPanic, "collect", nc.RemoteAddr())
			c.serve(ctx, nc, e)
		}()
	}
	c.wg.Wait() // connections drain (drainIdle, drainMax) and end on their own
}

func (c *collector) drop(r reason, err error, from net.Addr) {
	c.dropped[r].Add(1)
	args := []any{"reason", reasonNames[r], "from", from.String()}
	if err != nil {
		args = append(args, "err", err)
	}
	c.badLog.Warn("drop:"+reasonNames[r], "dropped a bad message", args...)
}

func (c *collector) serve(ctx context.Context, nc net.Conn, e *connEntry) {
	defer nc.Close()
	if ctx.Err() != nil {
		return
	}
	// At shutdown, read on until the connection is quiet for drainIdle; a
	// connection still in its handshake ends then too.
	var drainStart atomic.Int64
	stop := context.AfterFunc(ctx, func() {
		drainStart.Store(time.Now().UnixNano())
		_ = nc.SetReadDeadline(time.Now().Add(c.drainIdle))
	})
	defer stop()
	zc, err := zmtp.Handshake(nc, "PULL", handshakeTime)
	if err != nil {
		if ctx.Err() == nil {
			c.drop(dropHandshake, err, nc.RemoteAddr())
		}
		return
	}
	if drainStart.Load() != 0 { // the handshake's own deadline replaced the drain's
		_ = nc.SetReadDeadline(time.Now().Add(c.drainIdle))
	}
	zc.SetBudget(c.budget)
	c.conns.Add(1)
	defer c.conns.Add(-1)
	c.log.Debug("collect: connection", "from", nc.RemoteAddr())

	var frames [][]byte
	var deadlineSet time.Time // when the idle deadline was last moved
	sa := &slabAlloc{pool: c.slabs}
	defer sa.close()
	evs := c.events()
	batchBytes := 0
	send := func() {
		if len(evs) > 0 {
			// A sender that never lets its buffer run dry is not idle.
			e.touch()
			c.out <- batch{events: evs, slabs: sa.take(), free: c.evFree} // the loop drains until every source is done
			evs = c.events()
			batchBytes = 0
		}
	}
	defer send()
	for {
		if len(evs) > 0 && (len(evs) >= batchMax || batchBytes >= batchMaxBytes || len(sa.slabs) >= batchMaxBytes/slabSize) {
			send()
		}
		if !zc.Buffered() {
			// The next read may wait: hand over what there is, and hold no slab
			// while idle.
			send()
			sa.idle()
			// A message is complete: the connection is active. The next one must
			// complete within c.idle (trickling counts as idle), unless shutdown
			// has set the shorter drain deadline.
			// The deadline moves at most once a second: a busy connection
			// passes here every few events.
			now := time.Now()
			e.last.Store(now.UnixNano())
			if now.Sub(deadlineSet) >= time.Second && drainStart.Load() == 0 {
				deadlineSet = now
				_ = nc.SetReadDeadline(now.Add(c.idle))
				if drainStart.Load() != 0 {
					_ = nc.SetReadDeadline(time.Now().Add(c.drainIdle))
				}
			}
		}
		clear(frames) // hold no reference to the last message's memory while waiting
		m, err := zc.ReadMsg(frames, c.maxEvent, sa.alloc)
		if err != nil {
			if errors.Is(err, zmtp.ErrTooLarge) {
				c.drop(dropTooLarge, err, nc.RemoteAddr())
				if len(evs) == 0 {
					releaseAll(sa.take())
				}
				continue
			}
			if errors.Is(err, zmtp.ErrBusy) {
				c.drop(dropBusy, err, nc.RemoteAddr())
			} else if errors.Is(err, zmtp.ErrProtocol) || errors.Is(err, io.ErrUnexpectedEOF) {
				c.drop(dropProtocol, err, nc.RemoteAddr())
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("collect: connection ended", "from", nc.RemoteAddr(), "err", err)
			}
			return
		}
		if start := drainStart.Load(); start != 0 && time.Since(time.Unix(0, start)) < c.drainMax {
			_ = zc.SetReadDeadline(time.Now().Add(c.drainIdle))
		}
		frames = m.Frames
		if m.Command != "" {
			continue // e.g. a SUBSCRIBE from a confused peer: not data
		}
		ev, r, err := checkMessage(m.Frames)
		if err != nil || len(m.Frames) != 2 {
			c.drop(r, err, nc.RemoteAddr())
			if len(evs) == 0 {
				releaseAll(sa.take()) // nothing holds the dropped frames
			}
			continue
		}
		if len(ev.data) <= slabMaxFrame {
			ev.slab = sa.last // data is the message's last frame, from sa
		} // else memory of its own (see zmtp.GrowAbove)
		evs = append(evs, ev)
		batchBytes += len(ev.meta) + len(ev.data)
	}
}

// events returns an empty slice for a batch, one the loop gave back if there is one.
func (c *collector) events() []event {
	select {
	case evs := <-c.evFree:
		return evs
	default:
		return make([]event, 0, batchMax)
	}
}

// Dropped returns the drop counters by reason name.
func (c *collector) Dropped() map[string]any {
	m := make(map[string]any, nReasons)
	for i := range nReasons {
		m[reasonNames[i]] = c.dropped[i].Load()
	}
	return m
}

// incompleteBudget is the memory the collection port's incomplete messages may
// hold past zmtp.FreePerConn each: three maximal messages, at least 48 MiB. A
// thousand connections each holding half a maximal message then cost oxd this
// much, not a thousand half messages.
func incompleteBudget(maxEvent int) int64 {
	return max(48<<20, 3*int64(maxEvent))
}
