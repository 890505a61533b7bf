package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// controlHandler answers one control command. then, when not nil, runs after the
// reply has been sent (SHUTDOWN uses it to stop only once the client has its answer).
type controlHandler func(req map[string]any) (reply map[string]any, then func())

// controlServer is the REP socket on the control port: MessagePack map requests with
// a "cmd" key, MessagePack map replies. Anything else gets an error reply and the
// port keeps working.
type controlServer struct {
	l        net.Listener
	log      *slog.Logger
	busyLog  *rateLog
	handlers map[string]controlHandler
	onPanic  panicHandler

	track *connTrack // at maxControlConns the longest-idle connection goes
	wg    sync.WaitGroup
}

// maxRequest bounds a control request; real ones are a few bytes.
const maxRequest = 64 << 10

// maxControlConns bounds the open control connections (admin tools connect, ask, leave).
const maxControlConns = 128

func newControlServer(l net.Listener, log *slog.Logger) *controlServer {
	return &controlServer{l: l, log: log, busyLog: newRateLog(log, 10*time.Second), handlers: map[string]controlHandler{}, track: newConnTrack(maxControlConns)}
}

// Handle registers the handler of a command; later features (FORWARD, ...) add theirs.
func (s *controlServer) Handle(cmd string, h controlHandler) { s.handlers[cmd] = h }

// Port is the bound control port.
func (s *controlServer) Port() int { return s.l.Addr().(*net.TCPAddr).Port }

// Run serves until Close.
func (s *controlServer) Run() {
	for {
		nc, err := s.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e, evicted := s.track.admit(nc)
		if e == nil {
			nc.Close()
			continue
		}
		if evicted != nil {
			s.busyLog.Warn("busy", "control: at the connection limit; closed the longest-idle connection for a new one",
				"closed", evicted.RemoteAddr(), "from", nc.RemoteAddr(), "max", maxControlConns)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.track.remove(nc)
				nc.Close()
			}()
			defer catchPanic(s.onPanic, "control", nc.RemoteAddr())
			s.serve(nc, e)
		}()
	}
}

func (s *controlServer) serve(nc net.Conn, e *connEntry) {
	zc, err := zmtp.Handshake(nc, "REP", handshakeTime)
	if err != nil {
		s.log.Debug("control: handshake failed", "from", nc.RemoteAddr(), "err", err)
		return
	}
	for {
		e.touch()
		_ = nc.SetReadDeadline(time.Now().Add(controlIdle))
		m, err := zc.ReadMsg(nil, maxRequest, nil)
		var body []byte
		var envelope [][]byte
		switch {
		case errors.Is(err, zmtp.ErrTooLarge):
			// The envelope is lost with the message; a REQ peer needs the empty
			// delimiter to accept the reply.
			envelope = [][]byte{{}}
		case err != nil:
			return
		case m.Command != "":
			continue
		default:
			envelope, body = splitEnvelope(m.Frames)
		}
		reply, then := s.dispatch(body, err)
		out, encErr := ox.AppendValue(nil, reply)
		if encErr != nil {
			out, _ = ox.AppendValue(nil, map[string]any{"error": "cannot encode reply: " + encErr.Error()})
		}
		if err := zc.WriteMsg(append(envelope, out)...); err != nil {
			return
		}
		if err := zc.Flush(); err != nil {
			return
		}
		if then != nil {
			then()
		}
	}
}

// splitEnvelope separates a REQ message's routing frames, up to and including the
// empty delimiter, from the request body (the frame after it).
func splitEnvelope(frames [][]byte) (envelope [][]byte, body []byte) {
	for i, f := range frames {
		if len(f) == 0 {
			envelope = frames[:i+1]
			if i+1 < len(frames) {
				body = frames[i+1]
			}
			return envelope, body
		}
	}
	if len(frames) > 0 {
		body = frames[len(frames)-1]
	}
	return nil, body
}

func (s *controlServer) dispatch(body []byte, readErr error) (map[string]any, func()) {
	if readErr != nil {
		return map[string]any{"error": fmt.Sprintf("Bad Request: larger than %d bytes", maxRequest)}, nil
	}
	v, err := ox.Decode(body)
	if err != nil {
		return map[string]any{"error": "Bad Request: not MessagePack: " + err.Error()}, nil
	}
	req, ok := v.(map[string]any)
	if !ok {
		return map[string]any{"error": "Bad Request: not a map"}, nil
	}
	var cmd string
	switch c := req["cmd"].(type) {
	case string:
		cmd = c
	case []byte: // an old client's raw string
		cmd = string(c)
	default:
		return map[string]any{"error": "Bad Request: no string \"cmd\""}, nil
	}
	h := s.handlers[cmd]
	if h == nil {
		return map[string]any{"error": "Unknown Command"}, nil
	}
	return h(req)
}

// Close stops accepting and ends every connection.
func (s *controlServer) Close() {
	s.l.Close()
	s.track.closeAll()
	s.wg.Wait()
}
