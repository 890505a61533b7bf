package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

// pythonPeer is an original-style client written against libzmq (pyzmq) and
// msgpack-python: it discovers the stream through SOCK_STREAM, subscribes to
// "request", waits until oxd reports the subscription, PUSHes the fixture frames
// (after the short meta frame that crashed the original oxd), sends a garbage control
// request, and prints what it got as JSON.
const pythonPeer = `
import json, sys, time, zmq, msgpack
control, collect, frames_path = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = zmq.Context()
def ask(req, raw=False):
    s = ctx.socket(zmq.REQ); s.setsockopt(zmq.LINGER, 0); s.RCVTIMEO = 5000
    s.connect("tcp://" + control)
    s.send(req if raw else msgpack.packb(req))
    r = msgpack.unpackb(s.recv(), raw=False)
    s.close()
    return r
port = ask({"cmd": "SOCK_STREAM"})["port"]
sub = ctx.socket(zmq.SUB); sub.RCVTIMEO = 10000
sub.connect("tcp://127.0.0.1:%d" % port)
sub.setsockopt(zmq.SUBSCRIBE, b"request")
deadline = time.time() + 10
while ask({"cmd": "STATUS"})["stream"]["prefixes"] < 1:
    if time.time() > deadline: sys.exit("subscription never registered")
    time.sleep(0.02)
push = ctx.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000)
push.connect("tcp://" + collect)
frames = [json.loads(l) for l in open(frames_path)]
push.send_multipart([bytes.fromhex(frames[0]["meta_hex"])[:5], bytes.fromhex(frames[0]["data_hex"])])
for f in frames:
    push.send_multipart([bytes.fromhex(f["meta_hex"]), bytes.fromhex(f["data_hex"])])
want = sum(1 for f in frames if f["meta"]["type"].startswith("request"))
got = []
for _ in range(want):
    t, d = sub.recv_multipart()
    got.append([t.hex(), d.hex()])
garbage = ask(b"\xc1 not msgpack", raw=True)
status = ask({"cmd": "STATUS"})
push.close(); sub.close(); ctx.term()
print(json.dumps({"stream": got, "garbage": garbage, "status_keys": sorted(status.keys()),
                  "dropped": status["dropped"]}))
`

// TestPythonClientsInteroperate runs the scenario against a real libzmq peer.
func TestPythonClientsInteroperate(t *testing.T) {
	python := testenv.Python(t)
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { d.now = clock.Now })
	script := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(script, []byte(pythonPeer), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script, x.control, x.collect, testenv.Fixture(t, "wire-frames.jsonl"))
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("python peer: %v\n%s", err, stderr)
	}
	var res struct {
		Stream     [][2]string    `json:"stream"`
		Garbage    map[string]any `json:"garbage"`
		StatusKeys []string       `json:"status_keys"`
		Dropped    map[string]any `json:"dropped"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	waitTree(t, x.logPath, fixtureTree(t, "logs-daily"))

	var want [][2]string
	for _, s := range loadSession(t) {
		if s.Kind == "stream" {
			want = append(want, [2]string{s.FramesHex[0], s.FramesHex[1]})
		}
	}
	if len(res.Stream) != len(want) {
		t.Fatalf("python subscriber got %d events, want %d", len(res.Stream), len(want))
	}
	for i := range want {
		if res.Stream[i] != want[i] {
			t.Errorf("stream event %d: got type %s, want %s", i, decodeHex(res.Stream[i][0]), decodeHex(want[i][0]))
		}
	}
	if _, ok := res.Garbage["error"]; !ok {
		t.Errorf("garbage control request got %v", res.Garbage)
	}
	for _, k := range []string{"events", "hosts", "lag", "last"} {
		if !strings.Contains(strings.Join(res.StatusKeys, ","), k) {
			t.Errorf("STATUS keys %v lack %s", res.StatusKeys, k)
		}
	}
	if d, _ := res.Dropped["meta_size"].(float64); d != 1 {
		t.Errorf("short meta frame counted %v times", res.Dropped["meta_size"])
	}
}

func decodeHex(s string) string {
	b, _ := hex.DecodeString(s)
	return string(b)
}

// pythonPull is what an original oxd's collection port is: a libzmq PULL socket.
const pythonPull = `
import json, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PULL); s.RCVTIMEO = 20000
s.bind("tcp://" + sys.argv[1])
print("ready", flush=True)
got = [[f.hex() for f in s.recv_multipart()] for _ in range(int(sys.argv[2]))]
print(json.dumps(got), flush=True)
`

// TestForwardToALibzmqPull checks that plain forwarding hands a libzmq PULL peer
// (the original oxd's collection socket) the frames exactly as the client sent them.
func TestForwardToALibzmqPull(t *testing.T) {
	python := testenv.Python(t)
	addr := freeAddr(t)
	script := filepath.Join(t.TempDir(), "pull.py")
	if err := os.WriteFile(script, []byte(pythonPull), 0o644); err != nil {
		t.Fatal(err)
	}
	frames := testenv.WireFrames(t)
	cmd := exec.Command(python, script, addr, strconv.Itoa(len(frames)))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatal("python PULL did not start")
	}
	edge := startOxd(t, func(o *options, d *daemon) { o.forward = addr; o.logPath = "" })
	push := pusher(t, edge.collect)
	for _, f := range frames {
		send(t, push, f.Meta, f.Data)
	}
	if !sc.Scan() {
		t.Fatal("python PULL got nothing")
	}
	var got [][]string
	if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if len(got[i]) != 2 || got[i][0] != hex.EncodeToString(f.Meta) || got[i][1] != hex.EncodeToString(f.Data) {
			t.Fatalf("forwarded event %d differs from what the client sent", i)
		}
	}
	cmd.Wait()
}
