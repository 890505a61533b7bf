package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// marker builds the meta and data frames of an event that shows test progress.
func marker(t *testing.T, typ, body string) [2][]byte {
	t.Helper()
	r := ox.Record{ID: "marker", Type: typ, Host: "test", PID: 1, Start: time.Now(), End: time.Now(),
		Body: map[string]any{"marker": body}}
	data, err := ox.AppendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ox.AppendMeta(nil, r.Meta())
	if err != nil {
		t.Fatal(err)
	}
	return [2][]byte{meta, data}
}

func TestLiveViewFiltersByType(t *testing.T) {
	cases := []struct {
		name, filter string
		wantTypes    []string
	}{
		{"exact", "request.db", []string{"request.db", "request.db"}},
		{"prefix", "request*", []string{"request.db", "request.cache", "request.db", "request.log", "request.log", "request"}},
	}
	c := oxdtest.StartStandIn(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, errOut := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-H", c.Control, "-n", tc.filter}, strings.NewReader(""), out, errOut)
			}()
			// A subscription takes a moment to reach the publisher: send a marker
			// of a matching type until it shows.
			warm := tc.wantTypes[0]
			for i := 0; !strings.Contains(out.String(), `"marker":"warm"`); i++ {
				if ctx.Err() != nil || i > 200 {
					t.Fatalf("the live view never showed an event; stderr %q", errOut.String())
				}
				send(t, c, marker(t, warm, "warm"))
				time.Sleep(50 * time.Millisecond)
			}
			for _, f := range testenv.WireFrames(t) {
				send(t, c, [2][]byte{f.Meta, f.Data})
			}
			send(t, c, marker(t, "other", "not shown"))
			send(t, c, marker(t, warm, "end"))
			for i := 0; !strings.Contains(out.String(), `"marker":"end"`); i++ {
				if i > 200 {
					t.Fatalf("the end marker never showed; output %q", out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
			var types []string
			for line := range strings.Lines(out.String()) {
				var ev map[string]any
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				if ev["id"] == "marker" {
					continue
				}
				types = append(types, ev["type"].(string))
			}
			if strings.Join(types, " ") != strings.Join(tc.wantTypes, " ") {
				t.Errorf("types %v, want %v\n%s", types, tc.wantTypes, out.String())
			}
		})
	}
}

// sendTo pushes events to a collector's collection port and waits until they left.
func sendTo(t *testing.T, addr string, evs ...[2][]byte) {
	t.Helper()
	s := ox.NewSender(addr, nil)
	for _, ev := range evs {
		if err := s.Send(context.Background(), ev[0], ev[1]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLiveViewOfARealOxdFollowsItsRestart(t *testing.T) {
	o := oxdtest.Start(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-H", o.Control, "-n", "request*", "--reconnect-after", "300ms"},
			strings.NewReader(""), out, errOut)
	}()
	waitFor := func(body string) {
		t.Helper()
		for i := 0; !strings.Contains(out.String(), `"marker":"`+body+`"`); i++ {
			if i > 300 {
				t.Fatalf("%s never showed; stderr %q", body, errOut.String())
			}
			sendTo(t, o.Collect, marker(t, "request.x", body), marker(t, "other", "hidden-"+body))
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("before")
	o.Restart() // a new stream port: the view must find it
	waitFor("after")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hidden") {
		t.Errorf("a filtered-out type was shown")
	}
}
