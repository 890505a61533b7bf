package main

import (
	"io"
	"net"
	"sync"
	"testing"
)

// ackGate relays TCP connections to a target and can hold back what the target
// says (a link receiver's acknowledgements), so that a test can keep events
// provably in flight, sent but not acknowledged, for as long as it needs.
type ackGate struct {
	ln   net.Listener
	hold sync.RWMutex // write-locked while replies are held back
}

func startAckGate(t *testing.T, target string) *ackGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &ackGate{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(u, c); u.Close() }()
			go func() { defer wg.Done(); g.relayReplies(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return g
}

func (g *ackGate) addr() string { return g.ln.Addr().String() }

// relayReplies copies from the target to the client, waiting while replies are held.
func (g *ackGate) relayReplies(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.hold.RLock()
			_, werr := dst.Write(buf[:n])
			g.hold.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
