package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/fwdlink"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// adversarialTime is how long TestAdversarialTraffic attacks: a few seconds in
// `make test`, longer with OX_ADVERSARIAL_TIME (`make adversarial`).
func adversarialTime(t *testing.T) time.Duration {
	if s := os.Getenv("OX_ADVERSARIAL_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("OX_ADVERSARIAL_TIME: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

// zmtpFrames encodes frames as one ZMTP message.
func zmtpFrames(frames ...[]byte) []byte {
	var b []byte
	for i, f := range frames {
		flags := byte(0)
		if i < len(frames)-1 {
			flags = 0x01
		}
		if len(f) > 255 {
			b = append(b, flags|0x02)
			b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		} else {
			b = append(b, flags, byte(len(f)))
		}
		b = append(b, f...)
	}
	return b
}

// mutate damages a valid message in one of the ways a hostile or broken peer
// would: bit flips, truncation, an edited length field, random bytes, a random
// command. kind names what was done.
func mutate(r *rand.Rand, msg []byte) (out []byte, kind string) {
	out = append([]byte(nil), msg...)
	switch r.IntN(7) {
	case 0:
		for range 1 + r.IntN(4) {
			i := r.IntN(len(out))
			out[i] ^= 1 << r.IntN(8)
		}
		return out, "bit_flip"
	case 1:
		return out[:r.IntN(len(out))], "truncated"
	case 2: // a frame's length: the first header's size byte or bytes
		if out[0]&0x02 != 0 && len(out) >= 9 {
			binary.BigEndian.PutUint64(out[1:], r.Uint64()>>r.IntN(64))
		} else if len(out) >= 2 {
			out[1] = byte(r.IntN(256))
		}
		return out, "length_edited"
	case 3:
		junk := make([]byte, 1+r.IntN(64))
		for i := range junk {
			junk[i] = byte(r.IntN(256))
		}
		return junk, "random_bytes"
	case 4:
		names := []string{"PING", "PONG", "SUBSCRIBE", "CANCEL", "READY", "ERROR", "X"}
		name := names[r.IntN(len(names))]
		body := append([]byte{byte(len(name))}, name...)
		body = append(body, make([]byte, r.IntN(8))...)
		return append([]byte{0x04, byte(len(body))}, body...), "command"
	case 5: // an empty-frame run
		return bytes.Repeat([]byte{0x01, 0x00}, 1+r.IntN(200)), "empty_frames"
	}
	return out, "intact"
}

// TestAdversarialTraffic sends mutated valid traffic to every port of a live oxd
// for a bounded time, then checks that oxd is alive, caught no panic, stayed
// within its memory bound, accounts for what it received, and writes every good
// event sent afterwards.
func TestAdversarialTraffic(t *testing.T) {
	linkAddr := freeAddr(t)
	a := startAttacked(t, "--link", linkAddr)
	meta, data := testEvent(t, "adv", 0)
	event := zmtpFrames(meta, data)
	status, _ := ox.AppendValue(nil, map[string]any{"cmd": "STATUS"})
	control := zmtpFrames([]byte{}, status)
	subscribe := zmtpFrames([]byte("\x01adv"))
	hello := zmtpFrames(fwdlink.AppendFrame(nil, fwdlink.Frame{Type: fwdlink.TypeHello, ID: "adv"}))
	var payload []byte
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(meta)))
	payload = append(payload, meta...)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(data)))
	payload = append(payload, data...)
	batch := zmtpFrames(fwdlink.AppendFrame(nil, fwdlink.Frame{Type: fwdlink.TypeBatch, ID: "adv", Seq: 1, Count: 1, Payload: payload}))
	ports := []struct {
		name, addr, typ string
		msgs            [][]byte
	}{
		{"collect", a.Collect, "PUSH", [][]byte{event}},
		{"control", a.Control, "REQ", [][]byte{control}},
		{"stream", a.stream, "SUB", [][]byte{subscribe}},
		{"link", linkAddr, "DEALER", [][]byte{hello, batch}},
	}

	var mu sync.Mutex
	sent := map[string]int{}
	var collectConns atomic.Int64 // collection connections that sent a byte after the handshake
	deadline := time.Now().Add(adversarialTime(t))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				p := ports[r.IntN(len(ports))]
				nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
				if err != nil {
					continue
				}
				if r.IntN(20) == 0 { // a damaged greeting
					g := make([]byte, 64)
					g[0], g[9], g[10] = 0xff, 0x7f, 3
					g[r.IntN(64)] ^= byte(1 + r.IntN(255))
					nc.Write(g[:r.IntN(65)])
					nc.Close()
					mu.Lock()
					sent[p.name+"/greeting"]++
					mu.Unlock()
					continue
				}
				if _, err := zmtp.Handshake(nc, p.typ, 5*time.Second); err != nil {
					nc.Close()
					continue
				}
				var stream []byte
				counts := map[string]int{}
				for range 1 + r.IntN(20) {
					msg := p.msgs[r.IntN(len(p.msgs))]
					kind := "intact"
					if r.IntN(3) == 0 {
						msg, kind = mutate(r, msg)
					}
					stream = append(stream, msg...)
					counts[p.name+"/"+kind]++
				}
				// Frames split across writes at random points.
				nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
				for len(stream) > 0 {
					n := min(len(stream), 1+r.IntN(256))
					if _, err := nc.Write(stream[:n]); err != nil {
						break
					}
					stream = stream[n:]
				}
				if p.name == "collect" {
					collectConns.Add(1)
				}
				nc.Close()
				mu.Lock()
				for k, v := range counts {
					sent[k] += v
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	st := a.request(t, map[string]any{"cmd": "STATUS"})
	dropped := st["dropped"].(map[string]any)
	var total int64
	for _, v := range dropped {
		total += asInt(v)
	}
	received := asInt(st["received"])
	keys := make([]string, 0, len(sent))
	for k := range sent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + itoa(sent[k]) + " ")
	}
	t.Logf("sent: %s", b.String())
	t.Logf("oxd: received %d, dropped %v, link %v", received, dropped, st["link"])
	if n := asInt(dropped["panic"]); n != 0 {
		t.Errorf("%d panics caught", n)
	}
	if link, _ := st["link"].(map[string]any); asInt(link["panics"]) != 0 {
		t.Errorf("link panics: %v", link["panics"])
	}
	// Every collection connection that sent something is accounted for: at least
	// one event received or one message dropped with a reason, each.
	if c := collectConns.Load(); received+total < c {
		t.Errorf("%d collection connections sent data, but only %d events received and %d dropped", c, received, total)
	}
	peak := a.checkRSS(t)
	t.Logf("peak RSS %.1f MiB", float64(peak)/(1<<20))

	// Good events afterwards are all written, byte for byte, after what came before.
	before := asInt(a.request(t, map[string]any{"cmd": "STATUS"})["received"])
	a.good = int(before)
	a.checkServing(t, 50)
	var want []byte
	for i := range 50 {
		_, d := testEvent(t, "good", int(before)+i)
		want = append(want, d...)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(a.LogPath, "*", "good-*.log"))
		var got []byte
		for _, f := range files {
			b, _ := os.ReadFile(f)
			got = append(got, b...)
		}
		if bytes.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("good events after the attack: %d bytes written, want %d", len(got), len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
