package ox_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}

// wantWrongPort checks that err is a *ox.WrongPortError naming addr and the
// port wanted.
func wantWrongPort(t *testing.T, err error, addr, peer, wanted string) {
	t.Helper()
	var wrong *ox.WrongPortError
	if !errors.As(err, &wrong) {
		t.Fatalf("got %v, want a wrong-port error", err)
	}
	if wrong.Addr != addr || wrong.Peer != peer || !strings.Contains(err.Error(), wanted) {
		t.Fatalf("got %q (peer %s), want %s named as %s, needing %q", err, wrong.Peer, addr, peer, wanted)
	}
}

func TestControlRequestToAnotherPortOfARealOxdSaysSo(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	tests := []struct{ name, addr, peer string }{
		{"collection port", ports.Collect, "PULL"},
		{"stream port", ports.Stream, "PUB"},
		{"link port", ports.Link, "ROUTER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := ox.Status(ctx, tc.addr)
			wantWrongPort(t, err, tc.addr, tc.peer, "control port (3513 by default)")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ox.Status(ctx, ports.Control); err != nil {
		t.Fatalf("the control port: %v", err)
	}
}

func TestSenderToAnotherPortOfARealOxdReportsItOnce(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	tests := []struct{ name, addr, peer string }{
		{"control port", ports.Control, "REP"},
		{"stream port", ports.Stream, "PUB"},
		{"link port", ports.Link, "ROUTER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var reports []error
			s := ox.NewSender(tc.addr, &ox.SenderOptions{MaxBackoff: 20 * time.Millisecond, OnError: func(err error) {
				mu.Lock()
				reports = append(reports, err)
				mu.Unlock()
			}})
			meta, data := testFrames(t)
			if !s.TrySend(meta, data) {
				t.Fatal("queue full")
			}
			// Several attempts at the longest backoff: still one report.
			deadline := time.Now().Add(10 * time.Second)
			for s.Stats().Connects == 0 && time.Now().Before(deadline) {
				mu.Lock()
				n := len(reports)
				mu.Unlock()
				if n > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // ~15 more attempts
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			s.Close(ctx)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if len(reports) != 1 {
				t.Fatalf("%d reports %v, want one", len(reports), reports)
			}
			wantWrongPort(t, reports[0], tc.addr, tc.peer, "collection port (3514 by default)")
			if st := s.Stats(); st.Sent != 0 || st.Connects != 0 {
				t.Fatalf("stats %+v: nothing may be sent to the wrong port", st)
			}
		})
	}
}

func TestSubscribeToAnotherPortOfARealOxdEnds(t *testing.T) {
	_, ports := oxdtest.StartAllPorts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reported []error
	st := ox.Subscribe(ctx, ports.Collect, "", ox.StreamErrors(func(err error) { reported = append(reported, err) }))
	defer st.Close()
	_, _, err := st.Next(ctx)
	wantWrongPort(t, err, ports.Collect, "PULL", "control port (3513 by default)")
	if len(reported) != 0 {
		t.Fatalf("reported as a retry too: %v", reported)
	}
}

// testFrames is one valid event's meta and data frames.
func testFrames(t *testing.T) ([]byte, []byte) {
	t.Helper()
	meta, err := ox.AppendMeta(nil, ox.Meta{Version: ox.MetaVersion, End: 1, Host: "h", Type: "wrongport"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := ox.AppendValue(nil, map[string]any{"type": "wrongport"})
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}
