package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// TestStuckSubscriberLosesOnlyItsOwnEvents attaches a subscriber that never reads
// and one that does, blasts more than the stuck one's queue holds, and checks that
// collection wrote everything, the stuck subscriber's losses are counted, and the
// other subscriber still gets events.
func TestStuckSubscriberLosesOnlyItsOwnEvents(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })

	nc, err := netDial("127.0.0.1:" + itoa(x.d.stream.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stuck, err := zmtp.Handshake(nc, "SUB", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stuck.WriteMsg([]byte{1}) // subscribe to everything, then never read
	stuck.Flush()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	live := ox.Subscribe(ctx, x.control, "")
	defer live.Close()
	waitSubscribers(t, x, 2)
	got := make(chan string, 100000)
	go func() {
		for {
			typ, _, err := live.Next(ctx)
			if err != nil {
				return
			}
			got <- typ
		}
	}()

	const n = 3000
	big := strings.Repeat("x", 8000)
	end := fixtureTime
	data, _ := ox.AppendRecord(nil, ox.Record{ID: "i", Type: "blast", Host: "h", Start: end, End: end, Body: map[string]any{"big": big}})
	meta, _ := ox.AppendMeta(nil, ox.Meta{End: ox.UnixFloat(end), Host: "h", Type: "blast"})
	push := pusher(t, x.collect)
	for range n {
		send(t, push, meta, data)
	}
	waitTree(t, x.logPath, map[string][]byte{"20261124/blast-20261124.log": bytes.Repeat(data, n)})
	if st := x.d.stream.Stats(); asInt(st["dropped"]) == 0 {
		t.Fatalf("a subscriber that never reads lost nothing of %d MB: %v", n*len(data)>>20, st)
	}

	markerMeta, markerData := testEvent(t, "marker", 1)
	deadline := time.Now().Add(20 * time.Second)
	var sent time.Time
	for {
		if time.Since(sent) > 200*time.Millisecond {
			send(t, push, markerMeta, markerData)
			sent = time.Now()
		}
		select {
		case typ := <-got:
			if typ == "marker" {
				return
			}
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the reading subscriber gets nothing while another is stuck")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
