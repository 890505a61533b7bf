package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

func TestSlabIsReusedOnlyAfterItsLastRelease(t *testing.T) {
	p := newSlabPool(4)
	a := &slabAlloc{pool: p}
	f := a.alloc(100)
	if cap(f) != 100 {
		t.Fatalf("frame capacity %d, want 100: an append would run into the next frame", cap(f))
	}
	s := a.last
	batch := a.take() // the batch's reference
	a.idle()          // the connection lets go
	s.retain()        // a stream queue takes one
	releaseAll(batch)
	if got := p.get(); got == s {
		t.Fatal("a slab came back from the pool while a stream queue still held it")
	}
	s.release() // the stream wrote it
	if got := p.get(); got != s {
		t.Fatal("a slab released by everyone was not reused")
	}
}

func TestSlabAllocGivesLargeFramesMemoryOfTheirOwn(t *testing.T) {
	a := &slabAlloc{pool: newSlabPool(4)}
	defer a.close()
	a.alloc(10)
	if a.last == nil {
		t.Fatal("a small frame did not come from a slab")
	}
	if f := a.alloc(slabMaxFrame + 1); a.last != nil || len(f) != slabMaxFrame+1 {
		t.Fatalf("a frame of %d bytes came from a slab", len(f))
	}
}

// TestSlowSubscriberGetsExactBytesWhileSlabsAreReused sends thousands of distinct
// events of mixed sizes, more than the slab pool holds, to a subscriber that reads
// slowly, so that its queue holds slabs the connection would otherwise reuse.
// Every event it receives must be byte for byte one that was sent, in order, and
// the file must hold every event.
func TestSlowSubscriberGetsExactBytesWhileSlabsAreReused(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })

	nc, err := netDial("127.0.0.1:" + itoa(x.d.stream.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := zmtp.Handshake(nc, "SUB", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sub.WriteMsg([]byte{1})
	sub.Flush()
	waitSubscribers(t, x, 1)

	const n = 4000
	end := fixtureTime
	metas, datas := make([][]byte, n), make([][]byte, n)
	for i := range n {
		pad := strings.Repeat(string(rune('a'+i%26)), []int{10, 300, 3000, 9000}[i%4])
		r := ox.Record{ID: fmt.Sprintf("%032d", i), Type: "mix", Host: "h", Start: end, End: end, Body: map[string]any{"i": i, "pad": pad}}
		datas[i], _ = ox.AppendRecord(nil, r)
		metas[i], _ = ox.AppendMeta(nil, ox.Meta{End: ox.UnixFloat(end), Host: "h", Type: "mix"})
	}
	got := make(chan [][]byte, 1)
	go func() {
		var recv [][]byte
		defer func() { got <- recv }()
		for k := 0; ; k++ {
			_ = sub.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, err := sub.ReadMsg(nil, 1<<20, nil)
			if err != nil {
				return
			}
			if len(m.Frames) != 2 || string(m.Frames[0]) != "mix" {
				t.Errorf("stream message %q", m.Frames)
				return
			}
			recv = append(recv, m.Frames[1])
			if k%100 == 0 {
				time.Sleep(5 * time.Millisecond) // slow: let oxd's queue for it fill
			}
		}
	}()
	push := pusher(t, x.collect)
	for i := range n {
		send(t, push, metas[i], datas[i])
	}
	waitTree(t, x.logPath, map[string][]byte{"20261124/mix-20261124.log": bytes.Join(datas, nil)})

	recv := <-got
	j := 0
	for k, d := range recv {
		for j < n && !bytes.Equal(datas[j], d) {
			j++
		}
		if j == n {
			t.Fatalf("stream event %d of %d (%d bytes) is not an event sent, or out of order: %.80q", k, len(recv), len(d), d)
		}
		j++
	}
	if len(recv) == 0 {
		t.Fatal("the subscriber got nothing")
	}
	t.Logf("subscriber got %d of %d events intact; stream %v", len(recv), n, x.d.stream.Stats())
}
