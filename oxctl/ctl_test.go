package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// fixtureStatus is the STATUS reply the original oxd gave, as it was on the wire.
func fixtureStatus(t *testing.T) ([]byte, map[string]any) {
	t.Helper()
	f, err := os.Open(testenv.Fixture(t, "control-and-stream.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c struct {
			Kind    string         `json:"kind"`
			Request string         `json:"request_hex"`
			Reply   string         `json:"reply_hex"`
			JSON    map[string]any `json:"reply"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Kind == "control" && c.Request == "81a3636d64a6535441545553" { // {"cmd": "STATUS"}
			b, _ := hex.DecodeString(c.Reply)
			return b, c.JSON
		}
	}
	t.Fatal("no STATUS exchange in the fixture")
	return nil, nil
}

// startControl serves reply to every request on a REP socket, as oxd's control
// port does, and returns its address.
func startControl(t *testing.T, reply []byte) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rep := zmq4.NewRep(ctx)
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := rep.Recv(); err != nil {
				return
			}
			if err := rep.Send(zmq4.NewMsg(reply)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		rep.Close()
	})
	return rep.Addr().String()
}

func oxctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

func TestFormatStatusAsTheOriginal(t *testing.T) {
	reply := map[string]any{
		"last":   1795528006.1382086,
		"lag":    27.545156717300415,
		"hosts":  map[string]any{"vm": map[string]any{"last": 1795527978.5930521}},
		"events": map[string]any{"request": map[string]any{"last": 1795527978.5929906}, "big": map[string]any{"last": int64(1795527978)}},
	}
	now := time.Unix(1795528036, 0)
	got := formatStatus("127.0.0.1:3513", reply, now)
	want := `Host: 127.0.0.1:3513
Last: 2026-11-24 13:46:46 UTC (29 secs ago)
Lag: 27.55 secs

Hosts:
  vm       2026-11-24 13:46:18 UTC (57 secs ago)

Events:
  big      2026-11-24 13:46:18 UTC (58 secs ago)
  request  2026-11-24 13:46:18 UTC (57 secs ago)
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFormatStatusOfAnIdleCollector(t *testing.T) {
	got := formatStatus("h:1", map[string]any{"last": nil, "lag": nil, "events": map[string]any{},
		"hosts": map[string]any{}, "received": int64(0)}, time.Now())
	want := "Host: h:1\nLast: never\nLag: -\n\nCounters:\n  received  0\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStatusFromTheOriginalReply(t *testing.T) {
	raw, _ := fixtureStatus(t)
	addr := startControl(t, raw)
	for _, args := range [][]string{{"-H", addr}, {"--host=" + addr, "status"}, {"status", "-H", addr}} {
		out, err := oxctl(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{"Host: " + addr + "\n", "Lag: 27.55 secs\n", "\nHosts:\n  vm  ",
			"\n  request.cache  ", "secs ago)\n", "  xxxxxxxxxx"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestRawPrintsTheReplyAsJSON(t *testing.T) {
	raw, want := fixtureStatus(t)
	addr := startControl(t, raw)
	for _, args := range [][]string{{"-r", "-H", addr}, {"status", "--raw", "-H", addr}} {
		out, err := oxctl(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	}
}

func TestErrorReplyFails(t *testing.T) {
	reply, _ := ox.AppendValue(nil, map[string]any{"error": "Unknown Command"})
	addr := startControl(t, reply)
	_, err := oxctl(t, "-H", addr)
	if err == nil || !strings.Contains(err.Error(), "Unknown Command") {
		t.Errorf("err = %v", err)
	}
}

func TestStatusAgainstADeadPortFailsInOneLine(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	start := time.Now()
	_, err := oxctl(t, "-H", addr, "--timeout", "300ms")
	if err == nil {
		t.Fatal("no error from a dead port")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	msg := err.Error()
	if !strings.Contains(msg, "no answer from "+addr) || strings.Contains(msg, "\n") {
		t.Errorf("error %q", msg)
	}
	if program.ExitCode(err, io.Discard) != 1 {
		t.Errorf("exit code %d, want 1", program.ExitCode(err, io.Discard))
	}
}

func TestNoAnswerWithinFiveSecondsByDefault(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	_, err := oxctl(t, "-H", addr)
	if err == nil || !strings.Contains(err.Error(), "within 5s") {
		t.Errorf("err = %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"--nope"}, {"status", "extra"}, {"-H", "h:xx"}, {"--timeout", "0s"}} {
		_, err := oxctl(t, args...)
		var ue usageError
		if !errors.As(err, &ue) || program.ExitCode(err, io.Discard) != 2 {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func TestHelpListsCommands(t *testing.T) {
	out, err := oxctl(t, "-h")
	if program.ExitCode(err, io.Discard) != 0 || !strings.Contains(out, "status") || !strings.Contains(out, "--raw") {
		t.Errorf("help: %v\n%s", err, out)
	}
}

func TestStatusOfARealOxd(t *testing.T) {
	o := oxdtest.Start(t, "")
	s := ox.NewSender(o.Collect, nil)
	r := ox.Record{ID: "x", Type: "request.db", Host: "web1", PID: 1, Start: time.Now(), End: time.Now()}
	meta, _ := ox.AppendMeta(nil, r.Meta())
	data, _ := ox.AppendRecord(nil, r)
	if err := s.Send(context.Background(), meta, data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var out string
	for i := 0; i < 100 && !strings.Contains(out, "request.db"); i++ {
		var err error
		if out, err = oxctl(t, "-H", o.Control); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"Host: " + o.Control, "Last: 20", "Lag: ", "  web1 ", "  request.db ", "secs ago)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	raw, err := oxctl(t, "-H", o.Control, "--raw")
	if err != nil || !json.Valid([]byte(raw)) {
		t.Errorf("--raw: %v\n%s", err, raw)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	oxdtest.Cleanup()
	os.Exit(code)
}
