package main

import (
	"net"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func TestForwardChainDeliversTheOriginalFiles(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	central := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })
	edge := startOxd(t, func(o *options, d *daemon) {
		o.forward = central.collect
		d.now = clock.Now
	})
	push := pusher(t, edge.collect)
	for _, f := range testenv.WireFrames(t) {
		send(t, push, f.Meta, f.Data)
	}
	want := fixtureTree(t, "logs-daily")
	waitTree(t, edge.logPath, want)
	waitTree(t, central.logPath, want)
	fwd := edge.status(t)["forward"].(map[string]any)
	if asInt(fwd["sent"]) != 8 || asInt(fwd["dropped"]) != 0 {
		t.Fatalf("forward counters %v", fwd)
	}
}

func TestForwardQueuesWhileTheNextCollectorIsDown(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	addr := freeAddr(t)
	edge := startOxd(t, func(o *options, d *daemon) { o.forward = addr; o.logPath = "" })
	push := pusher(t, edge.collect)
	for _, f := range testenv.WireFrames(t) {
		send(t, push, f.Meta, f.Data)
	}
	edge.waitReceived(t, 8)
	central := startOxd(t, func(o *options, d *daemon) { o.collect = addr; d.now = clock.Now })
	waitTree(t, central.logPath, fixtureTree(t, "logs-daily"))
}

func TestForwardQueueIsBoundedInBytes(t *testing.T) {
	f := newPushForwarder(freeAddr(t), 1000, newLogger(&testenv.SyncBuffer{}, 0))
	meta, data := testEvent(t, "request", 1)
	accepted := 0
	for range 100 {
		if f.Forward(meta, data) {
			accepted++
		}
	}
	if max := 1000 / (len(meta) + len(data)); accepted != max {
		t.Fatalf("accepted %d events, room for %d", accepted, max)
	}
	st := f.Stats()
	if asInt(st["dropped"]) != int64(100-accepted) {
		t.Fatalf("stats %v", st)
	}
	ctx, cancel := contextWithTimeout(200 * time.Millisecond)
	defer cancel()
	if err := f.Close(ctx); err == nil {
		t.Fatal("Close with a queue it could not send: no error")
	}
}
