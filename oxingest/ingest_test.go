package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

func startOxd(t *testing.T) *oxdtest.Oxd {
	t.Helper()
	return oxdtest.Start(t, filepath.Join(t.TempDir(), "logs"))
}

// stored reads the events of type typ oxd wrote to disk so far.
func stored(t *testing.T, o *oxdtest.Oxd, typ string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(o.LogPath, "*", typ+"-*.log"))
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := ox.NewReader(bytes.NewReader(b))
		for {
			raw, err := r.Next()
			if err != nil {
				break // a file being written may end inside an event
			}
			v, err := ox.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v.(map[string]any))
		}
	}
	return out
}

// data returns the "data" of each event's body as a string (bin data too).
func data(t *testing.T, evs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		body, _ := ev["body"].(map[string]any)
		switch d := body["data"].(type) {
		case string:
			out = append(out, d)
		case []byte:
			out = append(out, string(d))
		default:
			t.Fatalf("event without data: %v", ev)
		}
	}
	return out
}

// waitStored waits until oxd has at least n events of typ on disk (it flushes at
// least every second).
func waitStored(t *testing.T, o *oxdtest.Oxd, typ string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := data(t, stored(t, o, typ))
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d %s events on disk after 30s: %q", len(got), n, typ, tail(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s []string) []string {
	return s[max(0, len(s)-5):]
}

func numbers(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d; last ones %q, want %q", len(got), len(want), tail(got), tail(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d is %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPipelineDeliversEveryLineInOrder(t *testing.T) {
	o := startOxd(t)
	const n = 200000
	var in strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "%d\n", i)
	}
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"-H", o.Collect, "numbers"}, strings.NewReader(in.String()), io.Discard, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	o.Stop() // flushes its files
	equal(t, data(t, stored(t, o, "numbers")), numbers(1, n))
}

func TestLinesAreTrimmedAndCarriedSafely(t *testing.T) {
	o := startOxd(t)
	long := strings.Repeat("x", 100<<10) // longer than 64 KiB
	in := "  hello world \t\n\n   \nlatin-1 caf\xe9\n" + long + "\r\nlast line without newline"
	if err := run(context.Background(), []string{"--host", o.Collect, "lines"}, strings.NewReader(in), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	o.Stop()
	evs := stored(t, o, "lines")
	equal(t, data(t, evs), []string{"hello world", "latin-1 caf\xe9", long, "last line without newline"})
	ev := evs[1]
	if _, ok := ev["body"].(map[string]any)["data"].([]byte); !ok {
		t.Errorf("invalid UTF-8 is not sent as bin data: %#v", ev["body"])
	}
	if _, ok := evs[0]["body"].(map[string]any)["data"].(string); !ok {
		t.Errorf("text is not sent as str: %#v", evs[0]["body"])
	}
	r, err := ox.RecordFromMap(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != "lines" || len(r.ID) != 32 || r.PID != os.Getpid() || r.End.IsZero() {
		t.Errorf("record %+v", r)
	}
}

func TestVeryLongLinesAreSplitNotLost(t *testing.T) {
	o := startOxd(t)
	line := strings.Repeat("abcdefghij", 100000) // 1 MB
	in := line + "\n" + "next\n"
	if err := run(context.Background(), []string{"-H", o.Collect, "--max-line", "300000", "long"}, strings.NewReader(in), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	o.Stop()
	got := data(t, stored(t, o, "long"))
	if len(got) != 5 || strings.Join(got[:4], "") != line || got[4] != "next" {
		t.Errorf("got %d events", len(got))
	}
}

func TestBackpressureInsteadOfDrops(t *testing.T) {
	// The collector is down at first and the queue holds 10 events: oxingest must
	// wait, not drop.
	o := oxdtest.Start(t, filepath.Join(t.TempDir(), "logs"))
	o.Stop()
	const n = 3000
	var in strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "%d\n", i)
	}
	done := make(chan error, 1)
	errOut := &testenv.SyncBuffer{}
	go func() {
		done <- run(context.Background(), []string{"-H", o.Collect, "--queue", "10", "bp"}, strings.NewReader(in.String()), io.Discard, errOut)
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run ended while the collector was down: %v", err)
	default:
	}
	o.Restart()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	o.Stop()
	equal(t, data(t, stored(t, o, "bp")), numbers(1, n))
}

func TestSignalDeliversWhatWasRead(t *testing.T) {
	o := startOxd(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-H", o.Collect, "sig"}, pr, io.Discard, io.Discard)
	}()
	// io.Pipe hands each write to the reader before Write returns: these lines
	// are read when the signal comes.
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(pw, "%d\n", i)
	}
	fmt.Fprint(pw, "1001") // a line still open
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not end after the signal")
	}
	o.Stop()
	equal(t, data(t, stored(t, o, "sig")), numbers(1, 1001))
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"type with -F", []string{"-F", "/tmp/x.log", "notices"}, "do not go together"},
		{"nothing to do", nil, "give a TYPE"},
		{"two types", []string{"a", "b"}, "one TYPE"},
		{"bad type", []string{"../etc"}, "type"},
		{"type too long", []string{strings.Repeat("x", 64)}, "type"},
		{"empty -F name", []string{"-F", ":/tmp/x"}, "empty type"},
		{"-F type from a dot file", []string{"-F", "/var/log/.hidden"}, "give one"},
		{"state file without -F", []string{"--state-file", "/tmp/s", "x"}, "--state-file"},
		{"bad port", []string{"-H", "h:x", "x"}, "port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, strings.NewReader(""), io.Discard, io.Discard)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a usage error about %q", err, c.want)
			}
			if program.ExitCode(err, io.Discard) != 2 {
				t.Errorf("exit code %d", program.ExitCode(err, io.Discard))
			}
		})
	}
}

func TestFollowSpecNamesTheType(t *testing.T) {
	cases := []struct{ in, typ, path string }{
		{"/var/log/syslog", "syslog", "/var/log/syslog"},
		{"/var/log/mail.err", "mail", "/var/log/mail.err"},
		{"access.log.1", "access", "access.log.1"},
		{"nginx_access:/var/log/nginx/access.log", "nginx_access", "/var/log/nginx/access.log"},
		{"./odd:name.log", "odd:name", "./odd:name.log"},
	}
	for _, c := range cases {
		s, err := parseFollow(c.in)
		if err != nil || s.typ != c.typ || s.path != c.path {
			t.Errorf("parseFollow(%q) = %+v, %v; want %s %s", c.in, s, err, c.typ, c.path)
		}
	}
}

func TestHelpExplains(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, strings.NewReader(""), &out, io.Discard)
	if program.ExitCode(err, io.Discard) != 0 || !strings.Contains(out.String(), "-F [NAME:]PATH") || !strings.Contains(out.String(), "--state-file") {
		t.Errorf("help: %v\n%s", err, out.String())
	}
}

func TestSIGTERMWithStdinStillOpenEndsCleanly(t *testing.T) {
	o := startOxd(t)
	cmd := exec.Command(os.Args[0], "-H", o.Collect, "term")
	cmd.Env = append(os.Environ(), "OXINGEST_TEST_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(stdin, "%d\n", i)
	}
	waitStored(t, o, "term", 500) // read and sent; stdin stays open
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, errOut.String())
	}
	stdin.Close()
	o.Stop()
	equal(t, data(t, stored(t, o, "term")), numbers(1, 500))
}

// TestMain lets a test run this binary as the oxingest command itself.
func TestMain(m *testing.M) {
	if os.Getenv("OXINGEST_TEST_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}
