package main

import (
	"context"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk/esbulktest"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// outputFile is a file for a child's output: with a file rather than a Go
// writer, Wait does not depend on every holder of a pipe closing it.
func outputFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// pushTo is an application's PUSH socket to a collector.
func pushTo(t *testing.T, collect string) func(meta, data []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	push := zmq4.NewPush(ctx, zmq4.WithLogger(log.New(io.Discard, "", 0)))
	t.Cleanup(func() { push.Close(); cancel() })
	if err := push.Dial("tcp://" + collect); err != nil {
		t.Fatal(err)
	}
	return func(meta, data []byte) {
		if err := push.Send(zmq4.NewMsgFrom(meta, data)); err != nil {
			t.Fatal(err)
		}
	}
}

// marker returns a function that sends one more event of type typ each call.
func marker(t *testing.T, send func(meta, data []byte), typ string) func() {
	n := 0
	return func() {
		n++
		r := ox.Record{ID: "marker", Type: typ, Host: "test", Start: time.Unix(int64(n), 0), End: time.Unix(int64(n), 0)}
		data, err := ox.AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := ox.AppendMeta(nil, r.Meta())
		if err != nil {
			t.Fatal(err)
		}
		send(meta, data)
	}
}

// buildCommand builds one of the module's commands into a temporary directory.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, "github.com/blueox/ox/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// The whole chain with the real programs: an application PUSHes events to oxd,
// oxstash (the built binary) reads oxd's stream and ships to VictoriaLogs,
// follows oxd through a restart, and SIGTERM ends it with everything sent and
// exit status 0.
func TestShipsFromARealOxdAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs oxd and oxstash")
	}
	vl := esbulktest.StartVictoriaLogs(t)
	oxstashBin := buildCommand(t, "oxstash")
	o := oxdtest.Start(t, "")
	dir := t.TempDir()

	stashOut := outputFile(t, filepath.Join(dir, "oxstash.out"))
	stderr := func() string { b, _ := os.ReadFile(stashOut.Name()); return string(b) }
	stash := exec.Command(oxstashBin, "-H", o.Control, "-n", "request*", "--flush-interval", "20ms",
		"-e", vl.BulkNode("_time_field", "@timestamp", "extra_fields", "run=oxd"),
		"-d", filepath.Join(dir, "dead"))
	stash.Stdout, stash.Stderr = stashOut, stashOut
	if err := stash.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = stash.Wait(); close(exited) }()
	t.Cleanup(func() {
		stash.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("oxstash output:\n%s", stderr())
		}
	})

	send := pushTo(t, o.Collect)

	// oxstash misses what oxd publishes before it has subscribed: send a marker
	// event until one arrives, then the events under test.
	waitRows(t, vl, `run:="oxd" type:="request.marker"`, 1, marker(t, send, "request.marker"))
	var want []testenv.WireFrame
	for _, wf := range testenv.WireFrames(t) {
		send(wf.Meta, wf.Data)
		if strings.HasPrefix(wf.EventJSON["type"].(string), "request") {
			want = append(want, wf)
		}
	}
	query := `run:="oxd" -type:~"request.marker"`
	waitRows(t, vl, query, len(want), nil)

	// oxd restarts on another stream port: oxstash asks the control port again
	// and carries on.
	o.Restart()
	send = pushTo(t, o.Collect)
	began := time.Now()
	waitRows(t, vl, `run:="oxd" type:="request.marker2"`, 1, marker(t, send, "request.marker2"))
	t.Logf("events flowed again %v after oxd restarted", time.Since(began).Round(time.Millisecond))

	stash.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("oxstash after SIGTERM: %v\n%s", waitErr, stderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("oxstash still running 30 s after SIGTERM\n%s", stderr())
	}
	if s := stderr(); !strings.Contains(s, "0 not delivered, 0 rejected by the node") || !strings.Contains(s, "(interrupted)") {
		t.Fatalf("summary %q", s)
	}
	checkRows(t, vl.Query(t, query), want)
}

func TestMain(m *testing.M) {
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}
