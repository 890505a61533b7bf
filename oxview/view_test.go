package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// TestMain lets a test run this binary as the oxview command itself.
func TestMain(m *testing.M) {
	if os.Getenv("OXVIEW_TEST_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}

// oxview runs the command on stdin and returns its output and error.
func oxview(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

func jsonLines(t *testing.T, out string) []any {
	t.Helper()
	var got []any
	for line := range strings.Lines(out) {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, line)
		}
		got = append(got, v)
	}
	return got
}

func TestDecodesEveryFixtureFileToTheWireEvents(t *testing.T) {
	frames := testenv.WireFrames(t)
	var files []string
	for _, dir := range []string{"logs-daily", "logs-hourly", "logs-zipped"} {
		m, err := filepath.Glob(filepath.Join(testenv.Fixture(t, dir), "*", "*"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 14 {
		t.Fatalf("found only %d fixture files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			lf, err := ox.ParseLogFileName(filepath.Base(path))
			if err != nil {
				t.Fatal(err)
			}
			var want []any
			for _, f := range frames {
				if f.EventJSON["type"] == lf.Type {
					want = append(want, any(f.EventJSON))
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			out, _, err := oxview(t, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonLines(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// wireStream is the fixture's data frames in the order the original client sent them.
func wireStream(t *testing.T) []byte {
	var b []byte
	for _, f := range testenv.WireFrames(t) {
		b = append(b, f.Data...)
	}
	return b
}

func TestPrettyPrintsTheOriginalHeader(t *testing.T) {
	f, err := os.Open(testenv.Fixture(t, "logs-daily/20261124/request-20261124.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, _, err := oxview(t, f, "-p")
	if err != nil {
		t.Fatal(err)
	}
	want := "\n=== request (6b05952ad488@vm:11874)  (5 ms)\n{\n  \"body\": {\n"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got %q, want it to start with %q", out, want)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 3)[2]), &ev); err != nil {
		t.Fatalf("the indented event is not JSON: %v", err)
	}
	if ev["type"] != "request" {
		t.Errorf("event = %v", ev)
	}
}

func TestPrettyDuration(t *testing.T) {
	cases := []struct {
		start, end any
		want       string
	}{
		{1.0, 1.0004, "0 ms"},
		{1.0, 1.0056, "6 ms"},
		{1.0, 2.9994, "1999 ms"},
		{1.0, 3.0, "2.0 s"},
		{int64(10), 75.25, "65.2 s"},
		{nil, 1.0, "? ms"},
		{"x", 1.0, "? ms"},
		{1.0, math.NaN(), "? ms"},
	}
	for _, c := range cases {
		if got := duration(c.start, c.end); got != c.want {
			t.Errorf("duration(%v, %v) = %q, want %q", c.start, c.end, got, c.want)
		}
	}
}

func TestPrettyHeaderSurvivesMissingAndOddFields(t *testing.T) {
	got := header(map[string]any{"type": "a\nb", "id": []byte("12345678901234567890"), "pid": 3.0})
	if want := "=== a?b (123456789012@:3)  (? ms)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestGroupPrintsTheFixtureRequestLast(t *testing.T) {
	out, _, err := oxview(t, bytes.NewReader(wireStream(t)), "--group")
	if err != nil {
		t.Fatal(err)
	}
	groups := jsonLines(t, out)
	var sizes []int
	for _, g := range groups {
		list := g.([]any)
		sizes = append(sizes, len(list))
		if len(list) == 6 {
			last := list[5].(map[string]any)
			if last["type"] != "request" {
				t.Errorf("last of the group is %v, want the request", last["type"])
			}
			for _, e := range list {
				if id := e.(map[string]any)["id"]; id != "6b05952ad488d8714531c740e2feeaf7" {
					t.Errorf("foreign id %v in the group", id)
				}
			}
		}
	}
	if !reflect.DeepEqual(sizes, []int{6, 1, 1}) && !reflect.DeepEqual(sizes, []int{1, 6, 1}) &&
		!reflect.DeepEqual(sizes, []int{1, 1, 6}) {
		t.Errorf("group sizes %v, want one group of 6 and two of 1", sizes)
	}
}

func record(t *testing.T, id, typ string) []byte {
	t.Helper()
	b, err := ox.AppendRecord(nil, ox.Record{ID: id, Type: typ, Host: "h", PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGroupKeepsAtMost1000PendingIDs(t *testing.T) {
	var in []byte
	for i := range maxPending + 1 {
		in = append(in, record(t, "id"+itoa(i), "req.sub")...)
	}
	in = append(in, record(t, "id0", "req")...)
	out, _, err := oxview(t, bytes.NewReader(in), "--group")
	if err != nil {
		t.Fatal(err)
	}
	groups := jsonLines(t, out)
	if len(groups) != maxPending+2 {
		t.Fatalf("%d groups, want %d", len(groups), maxPending+2)
	}
	first := groups[0].([]any)
	if len(first) != 1 || first[0].(map[string]any)["id"] != "id0" || first[0].(map[string]any)["type"] != "req.sub" {
		t.Errorf("the oldest group was not printed first to make room: %v", first)
	}
	second := groups[1].([]any)
	if len(second) != 1 || second[0].(map[string]any)["type"] != "req" {
		t.Errorf("parent of an evicted group: %v", second)
	}
	last := groups[len(groups)-1].([]any)
	if last[0].(map[string]any)["id"] != "id"+itoa(maxPending) {
		t.Errorf("groups waiting at the end are not printed in order: %v", last)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestJSONIsValidWhateverTheEventHolds(t *testing.T) {
	// Built by hand: ox.AppendValue would refuse or normalise some of these.
	var ev []byte
	ev = append(ev, 0x86)
	ev = append(ev, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'x')
	ev = append(ev, 0xa3, 'b', 'i', 'n', 0xc4, 0x03, 0xff, 0x00, 0xfe)
	ev = append(ev, 0xa3, 'n', 'a', 'n', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1)
	ev = append(ev, 0xa3, 'i', 'n', 'f', 0xca, 0x7f, 0x80, 0, 0)
	ev = append(ev, 0xa3, 's', 't', 'r', 0xa4, 'o', 0xff, 'k', '\n')
	ev = append(ev, 0x07, 0x81, 0xcd, 0x01, 0x00, 0xa1, 'v') // integer keys
	out, _, err := oxview(t, bytes.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid([]byte(strings.TrimSpace(out))) {
		t.Fatalf("invalid JSON: %s", out)
	}
	want := `{"7":{"256":"v"},"bin":"/wD+","inf":"Infinity","nan":"NaN","str":"o\ufffdk\n","type":"x"}` + "\n"
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestCompressedInputIsSniffed(t *testing.T) {
	var gz bytes.Buffer
	// Two gzip members, as appending compressed chunks gives.
	stream := wireStream(t)
	for _, part := range [][]byte{stream[:100], stream[100:]} {
		zw := gzip.NewWriter(&gz)
		zw.Write(part)
		zw.Close()
	}
	out, _, err := oxview(t, &gz)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(jsonLines(t, out)); n != 8 {
		t.Errorf("%d events from gzip, want 8", n)
	}
}

func TestDamagedInputPrintsWhatCameBeforeThenFails(t *testing.T) {
	stream := wireStream(t)
	frames := testenv.WireFrames(t)
	firstTwo := len(frames[0].Data) + len(frames[1].Data)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(stream)
	zw.Close()
	cases := []struct {
		name    string
		in      []byte
		minGood int
		errText string
	}{
		{"truncated in an event", stream[:firstTwo+10], 2, "truncated"},
		{"garbage between events", append(append(append([]byte{}, stream[:firstTwo]...), 0x01, 0x02), stream[firstTwo:]...), 2, "not a map"},
		{"truncated gzip", gz.Bytes()[:gz.Len()-30], 0, "stdin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := oxview(t, bytes.NewReader(c.in))
			if err == nil {
				t.Fatal("no error for damaged input")
			}
			if !strings.Contains(err.Error(), c.errText) {
				t.Errorf("error %q does not mention %q", err, c.errText)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			got := jsonLines(t, out)
			if len(got) < c.minGood {
				t.Errorf("%d events printed before the damage, want %d", len(got), c.minGood)
			}
			for i, g := range got {
				if !reflect.DeepEqual(g, any(frames[i].EventJSON)) {
					t.Errorf("event %d = %v", i, g)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"type name with stdin", []string{"-n", "request"}},
		{"long type name with stdin", []string{"--type-name=request*"}},
		{"unknown flag", []string{"--nope"}},
		{"a file with the live stream", []string{"-H", "127.0.0.1", "file.log"}},
		{"type name with a file", []string{"-n", "request", "file.log"}},
		{"bad port", []string{"-H", "localhost:abc"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := oxview(t, strings.NewReader(""), c.args...)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if program.ExitCode(err, io.Discard) != 2 {
				t.Errorf("exit code %d", program.ExitCode(err, io.Discard))
			}
		})
	}
}

func TestHelpExplains(t *testing.T) {
	out, _, err := oxview(t, strings.NewReader(""), "-h")
	if program.ExitCode(err, io.Discard) != 0 {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"--type-name", "--pretty", "--group", "gzip"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %s", want)
		}
	}
}

// brokenPipe accepts n writes, then fails as a closed pipe does.
type brokenPipe struct{ n int }

func (b *brokenPipe) Write(p []byte) (int, error) {
	if b.n == 0 {
		return 0, syscall.EPIPE
	}
	b.n--
	return len(p), nil
}

func TestClosedOutputEndsQuietly(t *testing.T) {
	in := bytes.Repeat(wireStream(t), 5000)
	var errOut bytes.Buffer
	err := run(context.Background(), nil, bytes.NewReader(in), &brokenPipe{n: 1}, &errOut)
	if err != nil || errOut.Len() > 0 {
		t.Errorf("err = %v, stderr %q", err, errOut.String())
	}
}

func TestPipedIntoHeadExitsQuietly(t *testing.T) {
	in := bytes.Repeat(wireStream(t), 5000)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "OXVIEW_TEST_MAIN=1")
	cmd.Stdin = bytes.NewReader(in)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !json.Valid([]byte(line)) {
		t.Fatalf("first line %q: %v", line, err)
	}
	stdout.Close() // what head does after one line
	err = cmd.Wait()
	if errOut.Len() > 0 {
		t.Errorf("stderr: %q", errOut.String())
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGPIPE) {
		t.Errorf("exit: %v (want success or SIGPIPE, as any Unix filter)", err)
	}
}

// FuzzViewStream feeds oxview arbitrary bytes as stdin: it must not panic or hang,
// and every line it prints must be valid JSON.
func FuzzViewStream(f *testing.F) {
	f.Add([]byte{0x81, 0xa2, 'i', 'd', 0xa1, 'x'}, false)
	f.Add([]byte{0x82, 0xa2, 'i', 'd', 0xa1, 'x', 0xa4, 't', 'y', 'p', 'e', 0xa3, 'a', '.', 'b', 0x81, 0xa2, 'i', 'd', 0xa1, 'x'}, true)
	f.Add([]byte("BZh91AY&SY"), false)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00}, false)
	f.Fuzz(func(t *testing.T, in []byte, group bool) {
		var args []string
		if group {
			args = []string{"--group"}
		}
		var out, errOut bytes.Buffer
		run(context.Background(), args, bytes.NewReader(in), &out, &errOut)
		for line := range strings.Lines(out.String()) {
			if !json.Valid([]byte(line)) {
				t.Fatalf("invalid JSON line %q", line)
			}
		}
	})
}

func TestDevNullIsStdinNotATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("/dev/null taken for a terminal: oxview < /dev/null would wait on the live stream")
	}
}
