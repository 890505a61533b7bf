package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

func freeLink(t *testing.T) string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }

// countEvents counts the events (by body "n") in the log files under dirs.
func countEvents(t *testing.T, dirs ...string) (distinct, dups int) {
	t.Helper()
	seen := map[int64]int{}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, ".log") {
				return nil
			}
			b, _ := os.ReadFile(p)
			r := ox.NewReader(bytes.NewReader(b))
			for {
				v, err := r.Next()
				if err != nil {
					return nil
				}
				rec, err := ox.DecodeRecord(v)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return nil
				}
				n, _ := rec.Body["n"].(int64)
				seen[n]++
				if seen[n] > 1 {
					dups++
				}
			}
		})
	}
	return len(seen), dups
}

// oxctl forward moves a spooling oxd from one collector to a backup in the middle of
// a stream; every event ends up in exactly one of them.
func TestForwardRepointsMidStreamLosingNothing(t *testing.T) {
	logsA, logsB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	linkA, linkB := freeLink(t), freeLink(t)
	oxdtest.Start(t, logsA, "--link", linkA)
	oxdtest.Start(t, logsB, "--link", linkB)
	edge := oxdtest.Start(t, "", "--spool-path", filepath.Join(t.TempDir(), "spool"), "--forward", linkA)

	out, err := oxctl(t, "-H", edge.Control, "forward")
	if err != nil || !strings.Contains(out, linkA) {
		t.Fatalf("forward without targets: %v\n%s", err, out)
	}

	s := ox.NewSender(edge.Collect, nil)
	const n = 20000
	for i := range n {
		if i == n/2 {
			out, err := oxctl(t, "-H", edge.Control, "forward", linkB)
			if err != nil || !strings.Contains(out, linkB) {
				t.Fatalf("oxctl forward: %v\n%s", err, out)
			}
			// The reply says the targets changed; the forwarder moves once the old
			// target has acknowledged what is in flight. Wait for that, so that the
			// rest of the stream provably goes to the backup however busy the machine.
			waitForwardTarget(t, edge.Control, linkB)
		}
		r := ox.Record{ID: fmt.Sprint(i), Type: "request", Host: "web1", PID: 1, Start: time.Now(), End: time.Now(),
			Body: map[string]any{"n": i}}
		meta, _ := ox.AppendMeta(nil, r.Meta())
		data, _ := ox.AppendRecord(nil, r)
		if err := s.Send(context.Background(), meta, data); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, dups := countEvents(t, logsA, logsB)
		if got == n {
			a, _ := countEvents(t, logsA)
			b, _ := countEvents(t, logsB)
			t.Logf("re-pointed mid-stream: %d events at A, %d at B, %d duplicates", a, b, dups)
			if b == 0 {
				t.Fatal("nothing reached the backup")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", got, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	raw, err := oxctl(t, "-H", edge.Control, "--raw")
	if err != nil || !strings.Contains(raw, linkB) {
		t.Fatalf("status after re-pointing: %v\n%s", err, raw)
	}
}

// waitForwardTarget waits until STATUS says spooled forwarding goes to target.
func waitForwardTarget(t *testing.T, control, target string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := ox.Status(ctx, control)
		cancel()
		fwd, _ := st["forward"].(map[string]any)
		if err == nil && fwd["target"] == target {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwarding did not move to %s: %v (%v)", target, fwd, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestForwardErrors(t *testing.T) {
	plain := oxdtest.Start(t, "")
	_, err := oxctl(t, "-H", plain.Control, "forward", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "spool") || program.ExitCode(err, io.Discard) != 1 {
		t.Fatalf("forward on an oxd without a spool: %v", err)
	}
	for _, args := range [][]string{{"forward", "a:1", "b:2"}, {"forward", "a:1,,b:2"}, {"forward", "--timeout", "0s", "a:1"}} {
		_, err := oxctl(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}
