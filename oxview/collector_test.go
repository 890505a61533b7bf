package main

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
)

// collector stands in for oxd's control and stream ports: a REP socket answering
// SOCK_STREAM and a PUB socket that publishes what the test sends.
type collector struct {
	controlAddr string
	pub         zmq4.Socket
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pub := zmq4.NewPub(ctx)
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(pub.Addr().String())
	rep := zmq4.NewRep(ctx)
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := rep.Recv(); err != nil {
				return
			}
			n, _ := strconv.Atoi(port)
			reply, _ := ox.AppendValue(nil, map[string]any{"port": n})
			if err := rep.Send(zmq4.NewMsg(reply)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		rep.Close()
		pub.Close()
	})
	return &collector{controlAddr: rep.Addr().String(), pub: pub}
}

// send publishes one event as oxd does: the type, then the data frame.
func (c *collector) send(t *testing.T, ev [2][]byte) {
	t.Helper()
	meta, data := ev[0], ev[1]
	m, err := ox.ParseMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pub.SendMulti(zmq4.NewMsgFrom([]byte(m.Type), data)); err != nil {
		t.Fatal(err)
	}
}
