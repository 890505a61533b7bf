// Package zmtp speaks the server side of ZeroMQ's wire protocol (ZMTP 3.0, NULL
// security) over a net.Conn, for the sockets oxd binds: PULL (collection), PUB
// (stream) and REP (control).
//
// zmq4 implements the same protocol, but its socket types do not fit a collector
// that takes input from the network:
//   - a frame header announcing a huge size makes zmq4 allocate that size before
//     reading a byte of it (a crash or an out-of-memory kill from one packet);
//   - its reads are unbuffered (several system calls per frame) and every message
//     crosses a goroutine and a channel, which caps throughput well below libzmq;
//   - its PUB writes to every subscriber from one goroutine, so one stuck subscriber
//     stalls the stream for all, and its queue has no bound unless a high-water mark
//     is set, which then drops for everyone.
//
// Here every read is buffered and bounded by a limit the caller gives, the handshake
// has its own small limit, and each connection is owned by the caller, who decides
// how to queue for it. Clients (PUSH, SUB, REQ) are left to zmq4 and libzmq; tests
// prove interoperation with both.
package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Frame flags (ZMTP 3.0, RFC 23).
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

// maxCommand bounds a command frame (READY, SUBSCRIBE, PING): they are small.
const maxCommand = 4096

// ErrTooLarge is returned by ReadMsg for a message larger than the caller's limit.
// The message has been skipped and the connection can go on.
var ErrTooLarge = errors.New("zmtp: message larger than the limit")

// ErrProtocol wraps violations of ZMTP after which the connection must be closed.
var ErrProtocol = errors.New("zmtp: protocol error")

// Conn is one ZMTP connection after the handshake.
type Conn struct {
	wmu      sync.Mutex // writes: the owner's and PONG replies from ReadMsg
	nc       net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	hdr      []byte      // WriteTopicMsgs: frame headers, topics and small frames
	iov      net.Buffers // WriteTopicMsgs: what one gathered write sends
	PeerType string      // the peer's Socket-Type, e.g. "PUSH"

	budget   *Budget // shared bound on incomplete messages' memory, or nil
	msgBytes int64   // memory taken for the message being read
	held     int64   // of which reserved from budget
}

// compatible lists the peer socket types each of our types accepts.
var compatible = map[string][]string{
	"PULL": {"PUSH"},
	"PUB":  {"SUB", "XSUB"},
	"REP":  {"REQ", "DEALER"},
	"PUSH": {"PULL"},
	"SUB":  {"PUB", "XPUB"},
	// Client sides, for tests that play a peer byte by byte.
	"REQ":    {"REP", "ROUTER"},
	"DEALER": {"REP", "ROUTER"},
}

// ReadBufferSize is the read buffer of a PULL connection: a read system call
// takes up to this many bytes of messages at once.
const ReadBufferSize = 32 << 10

// Handshake performs the greeting and NULL-security READY exchange on nc as socket
// type typ ("PULL", "PUB", "REP"), within timeout. On error the caller closes nc.
func Handshake(nc net.Conn, typ string, timeout time.Duration) (*Conn, error) {
	if timeout > 0 {
		_ = nc.SetDeadline(time.Now().Add(timeout))
		defer nc.SetDeadline(time.Time{})
	}
	// Big buffers only where the data flows: reads for PULL, writes for PUB and PUSH.
	rsize, wsize := 4<<10, 4<<10
	switch typ {
	case "PULL":
		rsize = ReadBufferSize
	case "PUB", "PUSH":
		wsize = 64 << 10
	}
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, rsize), w: bufio.NewWriterSize(nc, wsize)}
	var g [64]byte
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], "NULL")
	if _, err := nc.Write(g[:]); err != nil {
		return nil, fmt.Errorf("zmtp: send greeting: %w", err)
	}
	var p [64]byte
	if _, err := io.ReadFull(c.r, p[:]); err != nil {
		return nil, fmt.Errorf("zmtp: read greeting: %w", err)
	}
	if p[0] != 0xff || p[9] != 0x7f {
		return nil, fmt.Errorf("%w: not a ZMTP peer (bad signature)", ErrProtocol)
	}
	if p[10] < 3 {
		return nil, fmt.Errorf("%w: peer speaks ZMTP %d.%d, need 3.x", ErrProtocol, p[10], p[11])
	}
	if mech := string(bytes.TrimRight(p[12:32], "\x00")); mech != "NULL" {
		return nil, fmt.Errorf("%w: security mechanism %q not supported", ErrProtocol, mech)
	}
	if err := c.writeCommand("READY", readyProps(typ)); err != nil {
		return nil, fmt.Errorf("zmtp: send READY: %w", err)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("zmtp: send READY: %w", err)
	}
	name, body, err := c.readCommand()
	if err != nil {
		return nil, err
	}
	if name != "READY" {
		return nil, fmt.Errorf("%w: expected READY, got %q", ErrProtocol, name)
	}
	props, err := parseProps(body)
	if err != nil {
		return nil, err
	}
	c.PeerType = strings.ToUpper(props["socket-type"])
	ok := false
	for _, t := range compatible[typ] {
		ok = ok || t == c.PeerType
	}
	if !ok {
		return nil, fmt.Errorf("%w: a %s socket cannot talk to a %q peer", ErrProtocol, typ, c.PeerType)
	}
	return c, nil
}

func readyProps(typ string) []byte {
	var b []byte
	b = append(b, byte(len("Socket-Type")))
	b = append(b, "Socket-Type"...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(typ)))
	return append(b, typ...)
}

func parseProps(b []byte) (map[string]string, error) {
	props := map[string]string{}
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("%w: truncated READY property", ErrProtocol)
		}
		name := strings.ToLower(string(b[1 : 1+n]))
		b = b[1+n:]
		vn := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(vn) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: truncated READY property %q", ErrProtocol, name)
		}
		props[name] = string(b[:vn])
		b = b[vn:]
	}
	return props, nil
}

func (c *Conn) writeCommand(name string, body []byte) error {
	payload := make([]byte, 0, 1+len(name)+len(body))
	payload = append(payload, byte(len(name)))
	payload = append(payload, name...)
	payload = append(payload, body...)
	return c.writeFrame(flagCommand, payload)
}

// readCommand reads one frame that must be a command.
func (c *Conn) readCommand() (string, []byte, error) {
	flags, size, err := c.readHeader()
	if err != nil {
		return "", nil, err
	}
	if flags&flagCommand == 0 {
		return "", nil, fmt.Errorf("%w: expected a command frame", ErrProtocol)
	}
	if size > maxCommand {
		return "", nil, fmt.Errorf("%w: command of %d bytes", ErrProtocol, size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return "", nil, err
	}
	return splitCommand(buf)
}

func splitCommand(buf []byte) (string, []byte, error) {
	if len(buf) == 0 || int(buf[0]) > len(buf)-1 {
		return "", nil, fmt.Errorf("%w: malformed command", ErrProtocol)
	}
	n := int(buf[0])
	return string(buf[1 : 1+n]), buf[1+n:], nil
}

func (c *Conn) readHeader() (flags byte, size uint64, err error) {
	flags, err = c.r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	if flags&^(flagMore|flagLong|flagCommand) != 0 {
		return 0, 0, fmt.Errorf("%w: reserved flag bits 0x%02x", ErrProtocol, flags)
	}
	if flags&flagLong == 0 {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, 0, eofIsUnexpected(err)
		}
		return flags, uint64(b), nil
	}
	var l [8]byte
	if _, err := io.ReadFull(c.r, l[:]); err != nil {
		return 0, 0, eofIsUnexpected(err)
	}
	return flags, binary.BigEndian.Uint64(l[:]), nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Msg is what ReadMsg returns: the frames of one message, or one command.
type Msg struct {
	Frames  [][]byte
	Command string // set when the peer sent a command (Frames then holds its body)
}

// Alloc returns n bytes for a frame; the reader fills them. A collector passes a
// slab allocator so small frames share memory blocks.
type Alloc func(n int) []byte

// MaxFrames bounds the frames of one message. oxd's sockets take messages of one
// (stream subscriptions) to a few (a REQ envelope and its body; an event's meta and
// data) frames; without a bound, a run of empty frames costs the reader a slice
// header per two bytes received.
const MaxFrames = 64

// GrowAbove is the frame size above which ReadMsg does not take the frame's memory
// from the caller's Alloc at once: it grows a buffer of its own with the bytes
// actually received, so a header announcing a large frame costs nothing until the
// bytes arrive.
const GrowAbove = 64 << 10

// maxDiscard bounds a frame ReadMsg skips (a too-large message's): no sender has a
// reason to announce more, and skipping it would hold the connection for ever.
const maxDiscard = 1 << 40

// ReadMsg reads the next message, at most limit bytes over all its frames and at
// most MaxFrames frames. A larger message is skipped and reported as ErrTooLarge;
// the connection stays usable. More frames is a protocol error. PING commands are
// answered; other commands (SUBSCRIBE, CANCEL) are returned with Command set. frames
// is reused for the result when it has room. Frames up to GrowAbove bytes are read
// into memory from alloc; larger ones into memory of their own that grows as their
// bytes arrive. It returns io.EOF when the peer closed between messages.
func (c *Conn) ReadMsg(frames [][]byte, limit int, alloc Alloc) (Msg, error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	defer c.release()
	frames = frames[:0]
	left := uint64(max(limit, 0)) // bytes the message may still have
	tooLarge := false
	first := true
	nframes := 0
	for {
		flags, size, err := c.readHeader()
		if err != nil {
			if !first {
				err = eofIsUnexpected(err)
			}
			return Msg{}, err
		}
		if flags&flagCommand != 0 {
			if !first {
				return Msg{}, fmt.Errorf("%w: command inside a message", ErrProtocol)
			}
			if size > maxCommand {
				return Msg{}, fmt.Errorf("%w: command of %d bytes", ErrProtocol, size)
			}
			buf := make([]byte, size)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				return Msg{}, eofIsUnexpected(err)
			}
			name, body, err := splitCommand(buf)
			if err != nil {
				return Msg{}, err
			}
			switch name {
			case "PING":
				// Body: TTL (2 bytes) and a context echoed in the PONG.
				if len(body) >= 2 {
					c.wmu.Lock()
					err := c.writeCommand("PONG", body[2:])
					if err == nil {
						err = c.w.Flush()
					}
					c.wmu.Unlock()
					if err != nil {
						return Msg{}, err
					}
				}
				continue
			case "PONG":
				continue
			}
			return Msg{Frames: append(frames, body), Command: name}, nil
		}
		first = false
		nframes++
		if nframes > MaxFrames {
			return Msg{}, fmt.Errorf("%w: message of more than %d frames", ErrProtocol, MaxFrames)
		}
		if tooLarge || size > left {
			tooLarge = true
			if size > maxDiscard {
				return Msg{}, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, size)
			}
			if err := c.discard(size); err != nil {
				return Msg{}, eofIsUnexpected(err)
			}
		} else {
			left -= size
			var buf []byte
			if size <= GrowAbove {
				if err := c.reserve(int(size)); err != nil {
					return Msg{}, err
				}
				buf = alloc(int(size))
				_, err = io.ReadFull(c.r, buf)
			} else {
				buf, err = c.readGrowing(int(size))
			}
			if err != nil {
				return Msg{}, eofIsUnexpected(err)
			}
			frames = append(frames, buf)
		}
		if flags&flagMore == 0 {
			break
		}
	}
	if tooLarge {
		return Msg{}, ErrTooLarge
	}
	return Msg{Frames: frames}, nil
}

// readGrowing reads an n-byte frame into a buffer that starts at GrowAbove bytes
// and doubles as the bytes arrive: memory follows what the peer sent, not what it
// announced.
func (c *Conn) readGrowing(n int) ([]byte, error) {
	if err := c.reserve(GrowAbove); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, GrowAbove)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			if err := c.reserve(min(n, 2*cap(buf)) - cap(buf)); err != nil {
				return nil, err
			}
			nb := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		k, err := c.r.Read(buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < n {
			return nil, err
		}
	}
	return buf, nil
}

// discard skips n bytes of input.
func (c *Conn) discard(n uint64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		if _, err := c.r.Discard(k); err != nil {
			return err
		}
		n -= uint64(k)
	}
	return nil
}

// Buffered reports whether bytes of the next message are already buffered, so a
// reader can batch messages without blocking.
func (c *Conn) Buffered() bool { return c.r.Buffered() > 0 }

func (c *Conn) writeFrame(flags byte, body []byte) error {
	// Byte by byte: a header array passed to Write would escape to the heap.
	if len(body) > 255 {
		_ = c.w.WriteByte(flags | flagLong)
		n := uint64(len(body))
		for shift := 56; shift >= 0; shift -= 8 {
			_ = c.w.WriteByte(byte(n >> shift))
		}
	} else {
		_ = c.w.WriteByte(flags)
		_ = c.w.WriteByte(byte(len(body)))
	}
	_, err := c.w.Write(body)
	return err
}

// WriteMsg buffers one message; Flush sends what is buffered.
func (c *Conn) WriteMsg(frames ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = flagMore
		}
		if err := c.writeFrame(flags, f); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends buffered messages.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// SetReadDeadline sets the underlying connection's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Subscription decodes a SUB peer's message: a ZMTP 3.0 message whose first byte is
// 1 (subscribe) or 0 (unsubscribe) followed by the prefix, or a ZMTP 3.1 SUBSCRIBE
// or CANCEL command. ok is false for anything else.
func Subscription(m Msg) (prefix string, subscribe, ok bool) {
	switch {
	case m.Command == "SUBSCRIBE" && len(m.Frames) == 1:
		return string(m.Frames[0]), true, true
	case m.Command == "CANCEL" && len(m.Frames) == 1:
		return string(m.Frames[0]), false, true
	case m.Command == "" && len(m.Frames) == 1 && len(m.Frames[0]) > 0 && m.Frames[0][0] <= 1:
		return string(m.Frames[0][1:]), m.Frames[0][0] == 1, true
	}
	return "", false, false
}

// WriteTopicMsg buffers a two-frame message whose first frame is topic, without
// converting topic to a byte slice.
func (c *Conn) WriteTopicMsg(topic string, data []byte) error {
	if len(topic) > 255 {
		return c.WriteMsg([]byte(topic), data)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.w.WriteByte(flagMore)
	_ = c.w.WriteByte(byte(len(topic)))
	if _, err := c.w.WriteString(topic); err != nil {
		return err
	}
	return c.writeFrame(0, data)
}

// TopicMsg is one two-frame message for WriteTopicMsgs: a topic, then data.
type TopicMsg struct {
	Topic string
	Data  []byte
}

// copyBelow is the size under which WriteTopicMsgs copies a data frame next to its
// header instead of pointing the system call at it: a copy of a few hundred bytes
// costs less than an I/O vector of its own.
const copyBelow = 1024

// WriteTopicMsgs sends msgs, each as two frames (topic, then data), after anything
// WriteMsg buffered, in gathered writes (writev) that take large data frames where
// they are rather than copying them into a buffer. It returns once everything is
// written or on the first error.
func (c *Conn) WriteTopicMsgs(msgs []TopicMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.w.Flush(); err != nil {
		return err
	}
	// Headers, topics and small frames go to c.hdr; ends[i] marks where the
	// header bytes before the i-th large frame stop.
	hdr := c.hdr[:0]
	var ends []int
	var large [][]byte
	for _, m := range msgs {
		hdr = appendHeader(hdr, flagMore, len(m.Topic))
		hdr = append(hdr, m.Topic...)
		hdr = appendHeader(hdr, 0, len(m.Data))
		if len(m.Data) < copyBelow {
			hdr = append(hdr, m.Data...)
			continue
		}
		ends = append(ends, len(hdr))
		large = append(large, m.Data)
	}
	iov := c.iov[:0]
	start := 0
	for i, end := range ends {
		if end > start {
			iov = append(iov, hdr[start:end])
		}
		iov = append(iov, large[i])
		start = end
	}
	if start < len(hdr) {
		iov = append(iov, hdr[start:])
	}
	if cap(hdr) <= 1<<20 {
		c.hdr = hdr
	}
	c.iov = iov[:0]
	bufs := iov // WriteTo consumes its receiver
	_, err := bufs.WriteTo(c.nc)
	clear(iov) // drop the references to the caller's frames
	return err
}

func appendHeader(b []byte, flags byte, n int) []byte {
	if n > 255 {
		return binary.BigEndian.AppendUint64(append(b, flags|flagLong), uint64(n))
	}
	return append(b, flags, byte(n))
}
