// Package oxdtest runs a real oxd, built from this module, for the end-to-end
// tests of the tools that talk to it (oxview, oxctl, oxingest, oxstash), and a
// stand-in for its control and stream ports.
package oxdtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// Oxd is one oxd process on free loopback ports.
type Oxd struct {
	Control string // control address, host:port
	Collect string // collection address, host:port
	LogPath string // where it writes files ("" for none)

	t      testing.TB
	cmd    *exec.Cmd
	out    *bytes.Buffer // this run's output
	before string        // the output of the runs before a Restart
	done   chan struct{}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// Binary builds oxd once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oxdtest")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "oxd")
		cmd := exec.Command("go", "build", "-o", binPath, "./oxd")
		cmd.Dir = testenv.ModuleRoot(t)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build oxd: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// Cleanup removes the oxd binary Binary built; call it from TestMain after m.Run.
func Cleanup() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// Start runs oxd with files under logPath ("" for none) and waits until its
// control port answers. It is stopped when the test ends, and its output
// logged if the test failed.
func Start(t testing.TB, logPath string, extra ...string) *Oxd {
	t.Helper()
	o := &Oxd{LogPath: logPath, t: t}
	o.start(true, extra...)
	t.Cleanup(func() {
		o.Stop()
		if t.Failed() {
			t.Logf("oxd output:\n%s", o.Output())
		}
	})
	return o
}

// Restart stops oxd and starts it again on the same ports.
func (o *Oxd) Restart(extra ...string) {
	o.t.Helper()
	o.Stop()
	o.start(false, extra...)
}

// start runs oxd. A free port can be taken by another process before oxd binds
// it: then it tries again with other ports (the control and collection ports stay
// the same on a restart).
func (o *Oxd) start(newPorts bool, extra ...string) {
	o.t.Helper()
	for attempt := 1; ; attempt++ {
		if newPorts {
			o.Control = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(o.t))
			o.Collect = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(o.t))
		}
		err := o.try(extra...)
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			o.t.Fatal(err)
		}
	}
}

func (o *Oxd) try(extra ...string) error {
	t := o.t
	t.Helper()
	streamPort := testenv.FreePort(t)
	args := []string{"--control", o.Control, "--collect", o.Collect, "--http=",
		"--stream-port", strconv.Itoa(streamPort)}
	if o.LogPath != "" {
		args = append(args, "--log-path", o.LogPath)
	}
	args = append(args, extra...)
	o.cmd = exec.Command(Binary(t), args...)
	o.out = &bytes.Buffer{}
	o.cmd.Stdout, o.cmd.Stderr = o.out, o.out
	if err := o.cmd.Start(); err != nil {
		return fmt.Errorf("start oxd: %v", err)
	}
	o.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(o.cmd, o.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The stream port tells this oxd from another one that holds the port.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		reply, err := ox.ControlRequest(ctx, o.Control, map[string]any{"cmd": "SOCK_STREAM"})
		cancel()
		if err == nil && reply["port"] == int64(streamPort) {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("another collector answers there: %v", reply)
		}
		select {
		case <-o.done:
			return fmt.Errorf("oxd exited at start: %s", o.out)
		default:
		}
		if time.Now().After(deadline) {
			o.Stop()
			return fmt.Errorf("oxd does not answer on %s: %v", o.Control, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends oxd with SIGTERM (it flushes its files) and waits for it.
func (o *Oxd) Stop() {
	if o.cmd == nil || o.cmd.Process == nil {
		return
	}
	select {
	case <-o.done:
	default:
		o.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-o.done:
		case <-time.After(15 * time.Second):
			o.cmd.Process.Kill()
			<-o.done
			o.t.Errorf("oxd did not stop on SIGTERM")
		}
	}
	o.before += o.out.String()
	o.out.Reset()
}

// Output is what oxd logged so far, over restarts; only read it after Stop.
func (o *Oxd) Output() string { return o.before + o.out.String() }
