package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// startProcess runs the oxd binary and waits until its control port answers.
func startProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, *testenv.SyncBuffer, string) {
	t.Helper()
	control := freeAddr(t)
	out := &testenv.SyncBuffer{}
	cmd := exec.Command(bin, append([]string{"-t", control, "-v", "--http="}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("oxd output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := ox.Status(ctx, control)
		cancel()
		if err == nil {
			return cmd, out, control
		}
		if time.Now().After(deadline) {
			t.Fatalf("oxd does not answer on %s: %v", control, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("oxd did not exit in 20 s")
		return -1
	}
}

// TestSignalsFlushEverythingAndExitZero sends a burst and signals oxd at once,
// without waiting for it to catch up: every event sent must be in the file.
func TestSignalsFlushEverythingAndExitZero(t *testing.T) {
	bin := oxdtest.Binary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			logs := filepath.Join(t.TempDir(), "logs")
			collect := freeAddr(t)
			cmd, _, _ := startProcess(t, bin, "-c", collect, "-l", logs)
			push := pusher(t, collect)
			const n = 5000
			meta, data := testEvent(t, "burst", 1)
			for range n {
				send(t, push, meta, data)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("exit status %d", code)
			}
			name := filepath.Join(logs, ox.LogDir(time.Now()), ox.LogFileName("burst", time.Now(), 0))
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(b, data); got != n || len(b) != n*len(data) {
				t.Fatalf("file holds %d events (%d bytes), sent %d", got, len(b), n)
			}
		})
	}
}

func TestUsageErrorExitsTwo(t *testing.T) {
	bin := oxdtest.Binary(t)
	cmd := exec.Command(bin, "--rotate-hours", "24")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if code := waitExit(t, cmdStarted(t, cmd)); code != 2 {
		t.Fatalf("exit status %d, want 2 (%s)", code, stderr.String())
	}
	if !bytes.Contains(stderr.Bytes(), []byte("rotate-hours")) {
		t.Fatalf("message: %s", stderr.String())
	}
}

func cmdStarted(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
