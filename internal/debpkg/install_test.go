package debpkg_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

// TestInstallRunRemovePurge installs the package on this machine, runs the
// installed oxd as the oxd user with the arguments from /etc/default/oxd (as
// oxd.service would; CI has no systemd), sends events and finds them under
// /var/log/blueox, then removes and purges the package. It changes the system,
// so it runs only under CI=true (a throwaway machine, as root) or with
// OX_DEB_INSTALL_TEST=1; it leaves the machine as it found it.
func TestInstallRunRemovePurge(t *testing.T) {
	if !testenv.InCI() && os.Getenv("OX_DEB_INSTALL_TEST") != "1" {
		t.Skip("installs a package system-wide: runs under CI=true or OX_DEB_INSTALL_TEST=1")
	}
	if os.Geteuid() != 0 {
		testenv.Skip(t, "the install test needs root (dpkg -i)")
	}
	lookTool(t, "dpkg")
	lookTool(t, "setpriv")
	if exec.Command("dpkg-query", "-W", "-f=${Status}", "ox").Run() == nil {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "ox").Output()
		if strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed") {
			t.Fatalf("package ox is already installed here (%s): the test will not replace it", out)
		}
	}
	deb, version := buildPackages(t)

	_, userErr := user.Lookup("oxd")
	hadUser := userErr == nil
	var fresh []string // folders the package creates that were not there before
	for _, d := range []string{"/var/log/blueox", "/var/spool/oxd", "/var/lib/oxd"} {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			fresh = append(fresh, d)
		}
	}
	typ := fmt.Sprintf("debinstall%d", os.Getpid())
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", "ox").Run()
		files, _ := filepath.Glob("/var/log/blueox/*/" + typ + "-*")
		for _, f := range files {
			os.Remove(f)
		}
		for _, d := range fresh {
			os.RemoveAll(d)
		}
		if !hadUser {
			exec.Command("userdel", "oxd").Run()
			exec.Command("groupdel", "oxd").Run()
		}
	})

	out := run(t, "dpkg", "-i", deb)
	t.Logf("dpkg -i:\n%s", out)
	if !hadUser && !strings.Contains(out, "ox: created the system user oxd") {
		t.Errorf("postinst does not say it created the user:\n%s", out)
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil && !strings.Contains(out, "systemd is not running here") {
		t.Errorf("postinst does not say oxd was not started without systemd:\n%s", out)
	}
	if got := run(t, "oxd", "--version"); got != "oxd "+version+"\n" {
		t.Errorf("installed oxd --version: %q", got)
	}
	u, err := user.Lookup("oxd")
	if err != nil {
		t.Fatalf("no user oxd after install: %v", err)
	}
	passwd := run(t, "getent", "passwd", "oxd")
	if !strings.HasSuffix(strings.TrimSpace(passwd), ":/usr/sbin/nologin") {
		t.Errorf("oxd has a login shell: %s", passwd)
	}
	for _, d := range []string{"/var/log/blueox", "/var/spool/oxd", "/var/lib/oxd"} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid {
			t.Errorf("%s owned by uid %d, want oxd (%s)", d, uid, u.Uid)
		}
	}

	// Free loopback ports in the installed configuration, as an operator edits it.
	control, collect := "127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)), "127.0.0.1:"+strconv.Itoa(testenv.FreePort(t))
	conf, err := os.ReadFile("/etc/default/oxd")
	if err != nil {
		t.Fatal(err)
	}
	args := fmt.Sprintf(`OXD_ARGS="--log-path /var/log/blueox --collect %s --control %s --stream-port %d"`,
		collect, control, testenv.FreePort(t))
	edited := regexp.MustCompile(`(?m)^OXD_ARGS=.*$`).ReplaceAllString(string(conf), args)
	if edited == string(conf) {
		t.Fatalf("no OXD_ARGS line in /etc/default/oxd:\n%s", conf)
	}
	if err := os.WriteFile("/etc/default/oxd", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	oxd := exec.Command("sh", "-c",
		`. /etc/default/oxd && exec setpriv --reuid=oxd --regid=oxd --init-groups -- /usr/bin/oxd $OXD_ARGS`)
	oxdOut := &testenv.SyncBuffer{}
	oxd.Stdout, oxd.Stderr = oxdOut, oxdOut
	if err := oxd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- oxd.Wait() }()
	defer func() {
		if oxd.ProcessState == nil {
			oxd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("oxd output:\n%s", oxdOut.String())
		}
	}()
	waitStatus(t, control, exited, func(st map[string]any) bool { return true })

	s := ox.NewSender(collect, nil)
	for i := range 3 {
		meta, data := event(t, typ, i)
		if err := s.Send(context.Background(), meta, data); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.Close(ctx)
	cancel()
	waitStatus(t, control, exited, func(st map[string]any) bool { return fmt.Sprint(st["received"]) == "3" })
	oxd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("oxd after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("oxd did not stop on SIGTERM")
	}

	files, _ := filepath.Glob("/var/log/blueox/*/" + typ + "-*.log")
	if len(files) != 1 {
		t.Fatalf("files of the sent events: %v, want one under /var/log/blueox", files)
	}
	logFile := files[0]
	if n := countEvents(t, logFile); n != 3 {
		t.Fatalf("%s holds %d events, want 3", logFile, n)
	}
	fi, _ := os.Stat(logFile)
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid {
		t.Errorf("%s owned by uid %d, want oxd", logFile, uid)
	}

	// An upgrade keeps the edited configuration and the events, and installs the
	// new programs.
	newer := strings.TrimSuffix(version, "-1") + "-2"
	up := exec.Command(built.mkdeb, "-out", filepath.Join(filepath.Dir(built.dir), "up"), "-arch", runtime.GOARCH, "-version", newer)
	up.Dir = testenv.ModuleRoot(t)
	var upErr strings.Builder
	up.Stderr = &upErr
	upOut, err := up.Output() // the package's path
	if err != nil {
		t.Fatalf("mkdeb -version %s: %v\n%s", newer, err, upErr.String())
	}
	out = run(t, "dpkg", "-i", strings.TrimSpace(string(upOut)))
	t.Logf("dpkg -i (upgrade):\n%s", out)
	if got := run(t, "oxd", "--version"); got != "oxd "+newer+"\n" {
		t.Errorf("oxd --version after the upgrade: %q, want %s", got, newer)
	}
	if kept, err := os.ReadFile("/etc/default/oxd"); err != nil || string(kept) != edited {
		t.Errorf("the upgrade did not keep the edited /etc/default/oxd: %v\n%s", err, kept)
	}
	if n := countEvents(t, logFile); n != 3 {
		t.Errorf("after the upgrade %s holds %d events, want 3", logFile, n)
	}

	out = run(t, "dpkg", "-r", "ox")
	t.Logf("dpkg -r:\n%s", out)
	if _, err := os.Stat("/usr/bin/oxd"); err == nil {
		t.Error("/usr/bin/oxd is still there after dpkg -r")
	}
	if kept, err := os.ReadFile("/etc/default/oxd"); err != nil || string(kept) != edited {
		t.Errorf("dpkg -r did not keep the edited /etc/default/oxd: %v", err)
	}
	if _, err := os.Stat(logFile); err != nil {
		t.Errorf("dpkg -r lost the events: %v", err)
	}

	out = run(t, "dpkg", "-P", "ox")
	t.Logf("dpkg -P:\n%s", out)
	for _, f := range []string{"/etc/default/oxd", "/etc/default/oxstore", "/etc/default/oxstash"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after dpkg -P (%v)", f, err)
		}
	}
	if _, err := os.Stat(logFile); err != nil {
		t.Errorf("dpkg -P removed the events (they are data, kept): %v", err)
	}
}

// waitStatus asks oxd's control port for STATUS until ok accepts the reply,
// failing if oxd exits or 20 s pass.
func waitStatus(t *testing.T, control string, exited <-chan error, ok func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := ox.Status(ctx, control)
		cancel()
		if err == nil && ok(st) {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("oxd exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("oxd on %s: status %v, err %v", control, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// event returns the two frames of an event of type typ.
func event(t *testing.T, typ string, n int) (meta, data []byte) {
	t.Helper()
	now := time.Now()
	r := ox.Record{ID: fmt.Sprintf("%032x", n+1), Type: typ, Host: "debtest", PID: os.Getpid(),
		Start: now, End: now, Body: map[string]any{"n": n}}
	data, err := ox.AppendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	meta, err = ox.AppendMeta(nil, ox.Meta{End: ox.UnixFloat(now), Host: "debtest", Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

// countEvents counts the events in a log file.
func countEvents(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ox.NewReader(f)
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n++
	}
}
