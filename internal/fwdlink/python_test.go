package fwdlink

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// pythonForwarder is a forwarder written against libzmq (pyzmq DEALER), speaking
// the link protocol from docs/forwarding.md by hand: HELLO, then a deflated batch of
// two events, then the same batch again (a resend), printing each ACK's sequence.
const pythonForwarder = `
import struct, sys, zlib, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.connect("tcp://" + sys.argv[1])
fid = b"py-forwarder"
def frame(typ, seq, count=0, payload=b"", flags=0):
    return b"OXF" + bytes([1, typ, flags, len(fid)]) + fid + struct.pack(">QI", seq, count) + payload
def ack():
    f = s.recv()
    assert f[:4] == b"OXF\x01", f
    assert f[4] == 3, f
    n = f[6]
    return struct.unpack(">Q", f[7+n:15+n])[0]
s.send(frame(1, 0))
print(ack())
events = b""
for meta, data in [(b"m1", b"first"), (b"m2", b"second")]:
    events += struct.pack(">I", len(meta)) + meta + struct.pack(">I", len(data)) + data
z = zlib.compressobj(1, zlib.DEFLATED, -15)
payload = z.compress(events) + z.flush()
s.send(frame(2, 1, 2, payload, 1))
print(ack())
s.send(frame(2, 1, 2, payload, 1))
print(ack())
`

func TestLibzmqDealerSpeaksTheLink(t *testing.T) {
	py := testenv.Python(t)
	snk := newSink()
	rc := startReceiver(t, "", filepath.Join(t.TempDir(), "state"), snk.deliver)
	out, err := exec.Command(py, "-c", pythonForwarder, rc.addr).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "0 2 2" {
		t.Fatalf("acks %q, want 0 2 2", out)
	}
	snk.mu.Lock()
	defer snk.mu.Unlock()
	if strings.Join(snk.order, ",") != "first,second" {
		t.Fatalf("delivered %v", snk.order)
	}
	if st := rc.r.Stats(); st.Duplicates != 2 || st.Events != 2 {
		t.Fatalf("receiver stats %+v", st)
	}
}
