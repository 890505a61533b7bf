package oxdtest

import (
	"context"
	"net"
	"testing"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
)

// StandIn plays the part of oxd that stream readers (oxview, oxstash) talk
// to, in process: a ZeroMQ REP control socket that answers SOCK_STREAM with
// the port of a PUB socket, which publishes what the test gives Publish.
type StandIn struct {
	Control string // control address, host:port

	pub zmq4.Socket
}

// StartStandIn listens on free loopback ports; the sockets close when the
// test ends.
func StartStandIn(t testing.TB) *StandIn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pub := zmq4.NewPub(ctx)
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	rep := zmq4.NewRep(ctx)
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); rep.Close(); pub.Close() })
	streamPort := pub.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			msg, err := rep.Recv()
			if err != nil {
				return
			}
			reply := map[string]any{"error": "Unknown Command"}
			if v, err := ox.Decode(msg.Frames[0]); err == nil {
				if m, ok := v.(map[string]any); ok && m["cmd"] == "SOCK_STREAM" {
					reply = map[string]any{"port": streamPort}
				}
			}
			b, _ := ox.AppendValue(nil, reply)
			if rep.Send(zmq4.NewMsg(b)) != nil {
				return
			}
		}
	}()
	return &StandIn{Control: rep.Addr().String(), pub: pub}
}

// Publish sends one event on the stream as oxd does: its type, then its data
// frame.
func (s *StandIn) Publish(t testing.TB, typ string, data []byte) {
	t.Helper()
	if err := s.pub.SendMulti(zmq4.NewMsgFrom([]byte(typ), data)); err != nil {
		t.Fatal(err)
	}
}
