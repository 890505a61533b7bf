package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// nobody is the uid and gid the tests run oxd as when they run as root, so a
// folder's permissions bind it as they bind a service user.
const nobody = 65534

// unprivileged returns a folder every user can enter, a copy of the oxd binary
// in it, and the process attributes that run that binary as a user who is not
// root (nobody when the tests run as root; the current user otherwise).
func unprivileged(t *testing.T) (dir, bin string, attr *syscall.SysProcAttr) {
	t.Helper()
	dir, err := os.MkdirTemp("", "oxd-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "oxd")
	src, err := os.ReadFile(oxdtest.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	attr = &syscall.SysProcAttr{}
	if os.Geteuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
		// Prove it can be arranged: nobody must be able to run the copy.
		probe := exec.Command(bin, "-h")
		probe.SysProcAttr = attr
		if out, err := probe.CombinedOutput(); err != nil {
			if testenv.InCI() {
				t.Fatalf("cannot run oxd as uid %d: %v %s", nobody, err, out)
			}
			t.Skipf("cannot run oxd as uid %d: %v %s", nobody, err, out)
		}
	}
	return dir, bin, attr
}

// readOnlyDir makes a folder under dir that the unprivileged user cannot write.
func readOnlyDir(t *testing.T, dir string) string {
	t.Helper()
	ro := filepath.Join(dir, "readonly")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	return ro
}

func TestUnwritablePathStopsOxdAtStart(t *testing.T) {
	dir, bin, attr := unprivileged(t)
	ro := readOnlyDir(t, dir)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"log path is an unwritable folder", []string{"--log-path", ro},
			"oxd: --log-path " + ro + ": cannot create a folder in it: permission denied"},
		{"log path under an unwritable folder", []string{"--log-path", filepath.Join(ro, "logs")},
			"oxd: --log-path " + filepath.Join(ro, "logs") + ": cannot create the folder: permission denied"},
		{"spool path is an unwritable folder", []string{"--spool-path", ro, "--forward", "127.0.0.1:1"},
			"oxd: --spool-path " + ro + ": cannot create a folder in it: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-t", freeAddr(t), "-c", freeAddr(t)}, tc.args...)
			cmd := exec.Command(bin, args...)
			cmd.SysProcAttr = attr
			out := &testenv.SyncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if code := waitExit(t, cmdStarted(t, cmd)); code != 1 {
				t.Fatalf("exit status %d, want 1; output %s", code, out)
			}
			if got := strings.TrimSpace(out.String()); got != tc.want {
				t.Fatalf("output %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLaterOpenFailureIsCountedAndLoggedAsError makes the log path unwritable
// once oxd runs: every event it receives after that is counted as lost, by
// reason, in STATUS, and an error is logged.
func TestLaterOpenFailureIsCountedAndLoggedAsError(t *testing.T) {
	dir, bin, attr := unprivileged(t)
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(logs, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	control, collect := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "-t", control, "-c", collect, "-l", logs)
	cmd.SysProcAttr = attr
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmdStarted(t, cmd)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("oxd output:\n%s", out)
		}
	})
	st := waitStatus(t, control, func(map[string]any) bool { return true })
	files, ok := st["files"].(map[string]any)
	if !ok {
		t.Fatalf("STATUS has no files section before the first event: %v", st)
	}
	errs, _ := files["errors"].(map[string]any)
	for _, reason := range errorReasons {
		if v, ok := errs[reason]; !ok || asInt(v) != 0 {
			t.Errorf("files.errors.%s = %v, want 0 from the start", reason, v)
		}
	}

	if err := os.Chmod(logs, 0o555); err != nil {
		t.Fatal(err)
	}
	push := pusher(t, collect)
	const n = 20
	meta, data := testEvent(t, "request", 1)
	for range n {
		send(t, push, meta, data)
	}
	st = waitStatus(t, control, func(st map[string]any) bool { return asInt(st["received"]) == n })
	files = st["files"].(map[string]any)
	errs = files["errors"].(map[string]any)
	if asInt(files["lost_on_error"]) != n || asInt(files["written"]) != 0 || asInt(errs["open"]) != n {
		t.Fatalf("files %v, want all %d events lost on open errors", files, n)
	}
	if !strings.Contains(out.String(), "level=ERROR msg=\"cannot open log file; event lost\"") {
		t.Fatalf("no error logged:\n%s", out)
	}
}

// waitStatus polls STATUS until ok accepts it.
func waitStatus(t *testing.T, control string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		st, err := ox.Status(ctx, control)
		cancel()
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("STATUS %v (%v) not as expected in 15 s", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
