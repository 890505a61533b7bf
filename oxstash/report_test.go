package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/esbulk"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// liveRun is oxstash shipping a real oxd's live stream, in this process.
type liveRun struct {
	stderr *testenv.SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startLive(t *testing.T, control string, args ...string) *liveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &liveRun{stderr: &testenv.SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"-H", control, "--flush-interval", "20ms", "-d", filepath.Join(t.TempDir(), "dead")}, args...)
	go func() { r.done <- run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// waitStderr sends a marker event through oxd until oxstash's stderr holds
// want (oxstash misses what oxd publishes before it subscribed).
func (r *liveRun) waitStderr(t *testing.T, next func(), want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stderr.String(), want) {
		select {
		case err := <-r.done:
			t.Fatalf("oxstash ended: %v\n%s", err, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stderr while running:\n%s", want, r.stderr)
		}
		next()
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveShippingReportsTroubleWhileRunning: with the node down (a closed
// port) or refusing documents, a live oxstash says so on stderr as it
// happens, not only in the summary at exit, and the summary uses the same
// words.
func TestLiveShippingReportsTroubleWhileRunning(t *testing.T) {
	o := oxdtest.Start(t, "")
	send := marker(t, pushTo(t, o.Collect), "request")

	t.Run("node unreachable", func(t *testing.T) {
		dead := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens
		r := startLive(t, o.Control, "-e", dead, "--max-retries", "0")
		r.waitStderr(t, send, "oxstash: not delivered, node unreachable: ")
		if strings.Contains(r.stderr.String(), "documents: ") {
			t.Fatalf("the summary came before the end:\n%s", r.stderr)
		}
		r.cancel()
		err := <-r.done
		r.done <- err
		out := r.stderr.String()
		if err == nil || !strings.Contains(err.Error(), "not delivered (node unreachable)") || strings.Contains(err.Error(), "rejected") {
			t.Fatalf("exit error %v", err)
		}
		if !strings.Contains(out, " not delivered, 0 rejected by the node") || strings.Count(out, "still running") != 1 {
			t.Fatalf("stderr:\n%s", out)
		}
	})
	t.Run("rejected by the node", func(t *testing.T) {
		es := newFakeBulk(t)
		es.reject = func(map[string]any) (int, string) {
			return 400, `{"type":"mapper_parsing_exception","reason":"failed to parse"}`
		}
		r := startLive(t, o.Control, "-e", es.srv.URL)
		r.waitStderr(t, send, "oxstash: rejected by the node: status 400: mapper_parsing_exception: failed to parse")
		r.cancel()
		err := <-r.done
		r.done <- err
		if err == nil || !strings.Contains(err.Error(), "rejected by the node") || strings.Contains(err.Error(), "not delivered") {
			t.Fatalf("exit error %v", err)
		}
	})
}

func TestLiveReportsAreRateLimited(t *testing.T) {
	var stderr bytes.Buffer
	now := time.Unix(1000, 0)
	d := &deadLetter{path: filepath.Join(t.TempDir(), "dead"), stderr: &stderr, now: func() time.Time { return now }}
	defer d.close()
	refused := esbulk.Failure{Doc: esbulk.Doc{Body: []byte(`{}`)}, Reason: "connection refused", Err: errors.New("connection refused")}
	for _, step := range []time.Duration{0, time.Second, 8 * time.Second, time.Second, time.Second} {
		now = now.Add(step)
		d.add(refused)
	}
	// At 0 s, then at 10 s; not at 1, 9 or 11 s.
	if got := strings.Count(stderr.String(), "oxstash: not delivered, node unreachable: connection refused"); got != 2 {
		t.Fatalf("%d reports in:\n%s", got, stderr.String())
	}
	if !strings.Contains(stderr.String(), "so far 4 documents not delivered") {
		t.Fatalf("the second report lacks the count so far:\n%s", stderr.String())
	}
}

// TestSummaryCountsInputsApartFromDocuments: a missing file is an input that
// could not be read, not a failed document.
func TestSummaryCountsInputsApartFromDocuments(t *testing.T) {
	es := newFakeBulk(t)
	files := fixtureFiles(t, "logs-daily")
	missing := filepath.Join(t.TempDir(), "nope.log")
	_, stderr, err := runOxstash(t, context.Background(), nil, append([]string{"-e", es.srv.URL, "-d", filepath.Join(t.TempDir(), "dead"), missing}, files...)...)
	if err == nil || err.Error() != "oxstash: 1 input unreadable or damaged" {
		t.Fatalf("exit error %v", err)
	}
	want := plural(len(files)+1, "input") + " (1 unreadable or damaged), 8 events read\noxstash: 8 documents: 8 indexed, 0 not delivered, 0 rejected by the node"
	if !strings.Contains(stderr, want) || strings.Contains(stderr, "documents failed") {
		t.Fatalf("stderr %q\nwant %q", stderr, want)
	}
}
