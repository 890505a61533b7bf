package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// TestHostileInputIsDroppedAndCountedWhileGoodEventsFlow sends every kind of bad
// message the issue lists, each followed by a good event, and checks that every good
// event is written, each bad one is counted under its reason and logged, and nothing
// appears outside the log path.
func TestHostileInputIsDroppedAndCountedWhileGoodEventsFlow(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now; o.maxEventSize = 4096 })
	push := pusher(t, x.collect)
	goodMeta, goodData := testEvent(t, "good", 1)
	meta := func(m ox.Meta) []byte {
		m.Host = "h"
		b, err := ox.AppendMeta(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	typed := func(typ string) []byte { return meta(ox.Meta{Type: typ}) }
	longName := append([]byte{}, goodMeta...)
	longName[73] = 64 // type length byte past the 63 a Pascal string can hold

	cases := []struct {
		name   string
		frames [][]byte
		reason string
	}{
		{"one frame", [][]byte{goodMeta}, "frames"},
		{"three frames", [][]byte{goodMeta, goodData, goodData}, "frames"},
		{"short meta frame (crashed the original)", [][]byte{goodMeta[:10], goodData}, "meta_size"},
		{"empty meta frame", [][]byte{{}, goodData}, "meta_size"},
		{"long meta frame", [][]byte{append(append([]byte{}, goodMeta...), 0), goodData}, "meta_size"},
		{"meta version 2", [][]byte{meta(ox.Meta{Version: 2, Type: "good"}), goodData}, "meta_version"},
		{"meta name length 64", [][]byte{longName, goodData}, "meta_name"},
		{"data not MessagePack", [][]byte{goodMeta, {0xc1, 0x00}}, "not_msgpack"},
		{"data empty", [][]byte{goodMeta, {}}, "truncated"},
		{"data not a map", [][]byte{goodMeta, {0x93, 1, 2, 3}}, "not_map"},
		{"data a string", [][]byte{goodMeta, []byte("\xa5hello")}, "not_map"},
		{"data truncated", [][]byte{goodMeta, goodData[:len(goodData)-5]}, "truncated"},
		{"data with trailing bytes", [][]byte{goodMeta, append(append([]byte{}, goodData...), 0xc0)}, "trailing_bytes"},
		{"message over --max-event-bytes", [][]byte{goodMeta, bytes.Repeat([]byte{0x80}, 5000)}, "too_large"},
		{"type ../x", [][]byte{typed("../x"), goodData}, "type_name"},
		{"type /etc/x", [][]byte{typed("/etc/x"), goodData}, "type_name"},
		{"type ..", [][]byte{typed(".."), goodData}, "type_name"},
		{"type .", [][]byte{typed("."), goodData}, "type_name"},
		{"type empty", [][]byte{typed(""), goodData}, "type_name"},
		{"type with NUL", [][]byte{typed("a\x00b"), goodData}, "type_name"},
		{"type with newline", [][]byte{typed("a\nb"), goodData}, "type_name"},
		{"type a/../../b", [][]byte{typed("a/../../b"), goodData}, "type_name"},
		{"type with backslash", [][]byte{typed(`..\..\x`), goodData}, "type_name"},
		{"type .hidden", [][]byte{typed(".hidden"), goodData}, "type_name"},
		{"type not UTF-8", [][]byte{typed("a\xffb"), goodData}, "type_name"},
	}
	want := map[string]int{}
	for _, tc := range cases {
		send(t, push, tc.frames...)
		send(t, push, goodMeta, goodData)
		want[tc.reason]++
	}
	// ZMTP-level abuse on its own connections: a frame announcing 2^62 bytes and
	// reserved flag bits; garbage instead of a greeting.
	for _, hdr := range [][]byte{
		append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 1<<62)...),
		{0xf0, 0x01, 0x00},
	} {
		nc, err := netDial(x.collect)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zmtp.Handshake(nc, "PUSH", 0); err != nil {
			t.Fatal(err)
		}
		nc.Write(hdr)
		nc.Close()
		want["protocol"]++
	}
	if nc, err := netDial(x.collect); err == nil {
		nc.Write([]byte(strings.Repeat("garbage", 20)))
		nc.Close()
		want["handshake"]++
	}
	send(t, push, goodMeta, goodData)

	x.waitReceived(t, len(cases)+1)
	for reason, n := range want {
		x.waitDropped(t, reason, n)
	}
	st := x.status(t)
	dropped := st["dropped"].(map[string]any)
	for _, r := range reasonNames {
		if got := asInt(dropped[r]); got != int64(want[r]) {
			t.Errorf("dropped[%s] = %d, want %d", r, got, want[r])
		}
	}
	if got := asInt(st["received"]); got != int64(len(cases)+1) {
		t.Errorf("received %d good events, want %d", got, len(cases)+1)
	}
	waitTree(t, x.logPath, map[string][]byte{
		"20261124/good-20261124.log": bytes.Repeat(goodData, len(cases)+1),
	})
	// Nothing beside the log path in its parent, nothing at the absolute name.
	entries, _ := os.ReadDir(filepath.Dir(x.logPath))
	if len(entries) != 1 {
		t.Errorf("files beside the log path: %v", entries)
	}
	if _, err := os.Stat("/etc/x"); err == nil {
		t.Errorf("/etc/x exists")
	}
	out := x.out.String()
	for _, reason := range []string{"type_name", "meta_size", "not_map", "protocol"} {
		if !strings.Contains(out, "reason="+reason) {
			t.Errorf("no log line for reason %s", reason)
		}
	}
}

// TestBadMessagesAreLoggedAtARate checks a flood of one bad kind gives one line.
func TestBadMessagesAreLoggedAtARate(t *testing.T) {
	x := startOxd(t, nil)
	push := pusher(t, x.collect)
	meta, data := testEvent(t, "good", 1)
	for range 200 {
		send(t, push, meta[:5], data)
	}
	x.waitDropped(t, "meta_size", 200)
	if n := strings.Count(x.out.String(), "reason=meta_size"); n != 1 {
		t.Fatalf("%d log lines for 200 bad messages, want 1", n)
	}
}

func TestConnectionsPastTheLimitEvictTheLongestIdle(t *testing.T) {
	x := startOxd(t, func(o *options, d *daemon) { o.maxConns = 2 })
	for range 2 {
		nc, err := netDial(x.collect)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := zmtp.Handshake(nc, "PUSH", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Both idle connections are held; a new sender is still served.
	meta, data := testEvent(t, "good", 1)
	send(t, pusher(t, x.collect), meta, data)
	x.waitReceived(t, 1)
	if n := asInt(x.status(t)["connections_evicted"]); n < 1 {
		t.Errorf("connections_evicted = %d, want at least 1", n)
	}
}

func TestShutdownWithHalfOpenConnections(t *testing.T) {
	x := startOxd(t, nil)
	for _, addr := range []string{x.collect, x.control, "127.0.0.1:" + itoa(x.d.stream.Port())} {
		nc, err := netDial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte{0xff}) // a greeting that never finishes
	}
	if err := x.stop(t); err != nil {
		t.Fatal(err)
	}
}
