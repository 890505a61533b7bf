package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

func TestTopRatesFromTwoReplies(t *testing.T) {
	now := time.Unix(1795528036, 0)
	prev := map[string]any{"received": uint64(100), "dropped": map[string]any{"meta_size": uint64(1), "frames": uint64(0)},
		"events": map[string]any{
			"request": map[string]any{"last": 1795528035.0, "count": uint64(80)},
			"db":      map[string]any{"last": 1795528030.0, "count": uint64(20)},
		}}
	cur := map[string]any{"received": uint64(400), "dropped": map[string]any{"meta_size": uint64(5), "frames": uint64(0)},
		"connections": int64(2),
		"stream":      map[string]any{"subscribers": int64(1), "sent": uint64(10), "dropped": uint64(0)},
		"forward": map[string]any{"mode": "spool", "target": "central:3515", "connected": false, "sent": uint64(0),
			"spool_bytes": int64(512), "spool_max_bytes": int64(1024), "unacked": uint64(7), "oldest_unacked_age": 3.5,
			"last_error": "dial tcp: refused\x1b[2J"},
		"events": map[string]any{
			"request":     map[string]any{"last": 1795528036.0, "count": uint64(360)},
			"db":          map[string]any{"last": 1795528030.0, "count": uint64(20)},
			"new\x1b[31m": map[string]any{"last": 1795528036.0, "count": uint64(20)},
		}}
	got := formatTop("h:1", prev, cur, 2*time.Second, now, 0, 0)
	for _, want := range []string{
		"received 150/s  total 400  bad 2/s (5)  connections 2\n",
		"forward  spool to central:3515 DOWN",
		"unacked 7  oldest 3.5s  spool 50.0%",
		"last error: dial tcp: refused?[2J",
		"request                                   140            360     0s ago\n",
		"new?[31m                                   10             20     0s ago\n",
		"db                                          0             20     6s ago\n",
		"meta_size                                   2              5\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "frames") {
		t.Errorf("a reason with no drops is listed:\n%s", got)
	}
	if strings.Index(got, "request ") > strings.Index(got, "new?") || strings.Index(got, "new?") > strings.Index(got, "db ") {
		t.Errorf("types not sorted by rate:\n%s", got)
	}
	small := formatTop("h:1", prev, cur, 2*time.Second, now, 30, 9)
	for _, l := range strings.Split(strings.TrimSuffix(small, "\n"), "\n") {
		if len([]rune(l)) > 30 {
			t.Errorf("line wider than 30 columns: %q", l)
		}
	}
	if !strings.Contains(small, "more types") {
		t.Errorf("a short screen shows every type:\n%s", small)
	}
}

// sendEvents sends n events of typ to a collector and waits until they are sent.
func sendEvents(t *testing.T, collect, typ string, n int) {
	t.Helper()
	s := ox.NewSender(collect, nil)
	r := ox.Record{ID: "x", Type: typ, Host: "web1", PID: 1, Start: time.Now(), End: time.Now()}
	meta, _ := ox.AppendMeta(nil, r.Meta())
	data, _ := ox.AppendRecord(nil, r)
	for range n {
		if err := s.Send(context.Background(), meta, data); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTopPrintsOneSnapshotWhenNotATerminal(t *testing.T) {
	o := oxdtest.Start(t, "")
	sendEvents(t, o.Collect, "checkout", 50)
	var out string
	for i := 0; i < 100 && !strings.Contains(out, "checkout"); i++ {
		var err error
		if out, err = oxctl(t, "-H", o.Control, "top", "--interval", "100ms"); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"oxd " + o.Control, "received ", "TYPE ", "checkout ", "stream   0 subscribers"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("terminal escapes in a snapshot:\n%q", out)
	}
}

func TestTopUsage(t *testing.T) {
	for _, args := range [][]string{{"top", "x"}, {"top", "--interval", "0s"}} {
		if _, err := oxctl(t, args...); program.ExitCode(err, io.Discard) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestTopInATerminal runs oxctl top in a tmux pane: it draws the types, q (or
// Ctrl-C) leaves it, and the terminal's settings are what they were before.
func TestTopInATerminal(t *testing.T) {
	tmux := testenv.Binary(t, "tmux")
	o := oxdtest.Start(t, "")
	sendEvents(t, o.Collect, "checkout", 20)
	bin := filepath.Join(t.TempDir(), "oxctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build oxctl: %v\n%s", err, out)
	}
	for _, key := range []string{"q", "C-c"} {
		t.Run(key, func(t *testing.T) { topInTmux(t, tmux, bin, o.Control, key) })
	}
}

func topInTmux(t *testing.T, tmux, bin, control, key string) {
	dir := t.TempDir()
	sock := "oxctl-top-" + filepath.Base(filepath.Dir(dir)) // unique per test
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	script := "stty -g > before; " + bin + " -H " + control + " top; echo $? > rc; stty -g > after; sleep 30"
	if out, err := tm("new-session", "-d", "-x", "100", "-y", "30", "-c", dir, "sh", "-c", script); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })
	var screen string
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen, "checkout") {
		if time.Now().After(deadline) {
			t.Fatalf("screen:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond)
		screen, _ = tm("capture-pane", "-p")
	}
	if !strings.Contains(screen, "TYPE") || !strings.Contains(screen, "(q quits)") {
		t.Errorf("screen:\n%s", screen)
	}
	tm("send-keys", key)
	deadline = time.Now().Add(10 * time.Second)
	for {
		rc, err := os.ReadFile(filepath.Join(dir, "rc"))
		after, err2 := os.ReadFile(filepath.Join(dir, "after"))
		if err == nil && err2 == nil && len(after) > 0 {
			if strings.TrimSpace(string(rc)) != "0" {
				t.Errorf("exit status %s", rc)
			}
			before, _ := os.ReadFile(filepath.Join(dir, "before"))
			if string(before) != string(after) {
				t.Errorf("terminal settings changed: %s -> %s", before, after)
			}
			return
		}
		if time.Now().After(deadline) {
			screen, _ = tm("capture-pane", "-p")
			t.Fatalf("%s did not end top; screen:\n%s", key, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
