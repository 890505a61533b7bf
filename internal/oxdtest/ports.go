package oxdtest

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// Ports are the addresses of every port an oxd serves, host:port, for the
// tests that give a tool the wrong one.
type Ports struct {
	Control string // REP
	Collect string // PULL
	Stream  string // PUB
	Link    string // ROUTER, the acknowledged forwarding link
}

// StartAllPorts runs oxd with files and an acknowledged link port, and
// returns it with the addresses of its four ports.
func StartAllPorts(t testing.TB) (*Oxd, Ports) {
	t.Helper()
	link := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	o := Start(t, filepath.Join(t.TempDir(), "logs"), "--link", link)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ox.ControlRequest(ctx, o.Control, map[string]any{"cmd": "SOCK_STREAM"})
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reply["port"].(int64)
	return o, Ports{
		Control: o.Control,
		Collect: o.Collect,
		Stream:  net.JoinHostPort("127.0.0.1", strconv.FormatInt(port, 10)),
		Link:    link,
	}
}
