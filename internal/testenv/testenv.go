// Package testenv finds the real servers, peers and fixtures that integration tests
// use, and decides what happens when one is missing: a skip on a developer's machine,
// a failure under CI=true, where a skipped integration test would hide a broken setup.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where every integration
// component must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Skip skips the test on a developer machine and fails it under CI.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and a required component is missing: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Binary returns the path of an installed tool, looked up first in $OX_TOOLS_BIN
// (where `make deps` installs the test servers), then in $PATH.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("OX_TOOLS_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "ox-test", "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Skip(t, "%s not installed (run `make deps`)", name)
	return ""
}

// Python returns a Python 3 interpreter that can import zmq and msgpack (Debian's
// python3-zmq and python3-msgpack), for interop tests against a real libzmq peer.
// $OX_PYTHON overrides the search.
func Python(t testing.TB) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3", "python3"}
	if p := os.Getenv("OX_PYTHON"); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import zmq, msgpack").Run() == nil {
			return p
		}
	}
	Skip(t, "no python3 with zmq and msgpack (apt-get install python3-zmq python3-msgpack)")
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. There is a
// small race with other processes; callers that can bind :0 themselves should.
// Where it can, it picks a port outside the kernel's ephemeral range (quietPort),
// which no connection or :0 listener can take meanwhile.
func FreePort(t testing.TB) int {
	t.Helper()
	if p, ok := quietPort(); ok {
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ModuleRoot returns the repository's root directory (where go.mod is).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Fixture returns the path of a file captured from the original BlueOx, under
// testdata/original/ at the module root, e.g. Fixture(t, "wire-frames.jsonl").
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(ModuleRoot(t), "testdata", "original", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", rel, err)
	}
	return p
}
