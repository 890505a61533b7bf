package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// runningIngest is oxingest -F running in the background; stop ends it as SIGTERM would.
type runningIngest struct {
	cancel    context.CancelFunc
	done      chan error
	errOut    *testenv.SyncBuffer
	following chan struct{} // closed once every -F file is opened and positioned
}

func startIngest(t *testing.T, o *oxdtest.Oxd, args ...string) *runningIngest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ri := &runningIngest{cancel: cancel, done: make(chan error, 1), errOut: &testenv.SyncBuffer{},
		following: make(chan struct{})}
	var once sync.Once
	testHookFollowing = func() { once.Do(func() { close(ri.following) }) }
	args = append([]string{"-H", o.Collect, "--poll", "20ms"}, args...)
	go func() { ri.done <- run(ctx, args, strings.NewReader(""), io.Discard, ri.errOut) }()
	t.Cleanup(func() { ri.stop(t) })
	return ri
}

func (ri *runningIngest) stop(t *testing.T) {
	t.Helper()
	if ri.cancel == nil {
		return
	}
	ri.cancel()
	ri.cancel = nil
	select {
	case err := <-ri.done:
		if err != nil {
			t.Errorf("oxingest: %v\n%s", err, ri.errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("oxingest did not stop")
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFollowing waits until oxingest has opened and positioned its -F files, so
// that lines written from now on are new to it (a fixed pause was not enough on a
// loaded machine: lines written before the open were taken as old).
func (ri *runningIngest) waitFollowing(t *testing.T) {
	t.Helper()
	select {
	case <-ri.following:
	case err := <-ri.done:
		t.Fatalf("oxingest ended before following its files: %v\n%s", err, ri.errOut)
	case <-time.After(30 * time.Second):
		t.Fatal("oxingest did not open its files in 30 s")
	}
}

func TestFollowStartsAtTheEndAcrossARename(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "old 1", "old 2") // there before oxingest: not sent
	ri := startIngest(t, o, "-F", path)
	ri.waitFollowing(t)
	appendLines(t, path, "a1", "a2")
	waitStored(t, o, "app", 2)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// A writer that still has the old file open adds a line after the rename;
	// the new file gets its own.
	appendLines(t, path+".1", "a3")
	appendLines(t, path, "b1", "b2")
	got := waitStored(t, o, "app", 5)
	ri.stop(t)
	equal(t, got, []string{"a1", "a2", "a3", "b1", "b2"})
}

func TestFollowCopyTruncate(t *testing.T) {
	o := startOxd(t)
	path := filepath.Join(t.TempDir(), "ct.log")
	appendLines(t, path)
	ri := startIngest(t, o, "-F", path)
	ri.waitFollowing(t)
	appendLines(t, path, "before 1", "before 2 is a longer line")
	waitStored(t, o, "ct", 2)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	// Usually a poll sees the empty file before the next line; when the machine is
	// too busy for that, the shorter size tells the truncation all the same.
	time.Sleep(150 * time.Millisecond)
	appendLines(t, path, "after 1")
	got := waitStored(t, o, "ct", 3)
	ri.stop(t)
	equal(t, got, []string{"before 1", "before 2 is a longer line", "after 1"})
}

func TestFollowTruncatedAndRefilledBeyondTheOldEnd(t *testing.T) {
	// Truncated and written past the old size between two polls: the size alone
	// cannot tell, the fingerprint of the first bytes does.
	o := startOxd(t)
	path := filepath.Join(t.TempDir(), "tr.log")
	appendLines(t, path)
	ri := startIngest(t, o, "-F", path, "--poll", "300ms")
	ri.waitFollowing(t)
	appendLines(t, path, "x1")
	waitStored(t, o, "tr", 1)
	if err := os.WriteFile(path, []byte("y1 is new\ny2 is new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := waitStored(t, o, "tr", 3)
	ri.stop(t)
	equal(t, got, []string{"x1", "y1 is new", "y2 is new"})
}

func TestFollowWaitsForAFileThatDoesNotExistYet(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	ri := startIngest(t, o, "-F", "late:"+filepath.Join(dir, "late.log"))
	ri.waitFollowing(t)
	appendLines(t, filepath.Join(dir, "late.log"), "first", "second")
	got := waitStored(t, o, "late", 2)
	ri.stop(t)
	equal(t, got, []string{"first", "second"})
}

func TestFollowSeveralFiles(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	mail, web := filepath.Join(dir, "mail.err"), filepath.Join(dir, "access.log")
	appendLines(t, mail)
	appendLines(t, web)
	ri := startIngest(t, o, "-F", mail, "-F", "nginx_access:"+web)
	ri.waitFollowing(t)
	appendLines(t, mail, "m1")
	appendLines(t, web, "w1", "w2")
	appendLines(t, mail, "m2")
	gotMail := waitStored(t, o, "mail", 2)
	gotWeb := waitStored(t, o, "nginx_access", 2)
	ri.stop(t)
	equal(t, gotMail, []string{"m1", "m2"})
	equal(t, gotWeb, []string{"w1", "w2"})
}

func TestStateFileResumesWithoutLossOrRepeats(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	path, state := filepath.Join(dir, "svc.log"), filepath.Join(dir, "state.json")
	appendLines(t, path, "before oxingest ever ran")
	ri := startIngest(t, o, "-F", path, "--state-file", state)
	ri.waitFollowing(t)
	appendLines(t, path, "1", "2", "3")
	waitStored(t, o, "svc", 3)
	ri.stop(t)

	appendLines(t, path, "4", "5") // while oxingest is down
	ri = startIngest(t, o, "-F", path, "--state-file", state)
	ri.waitFollowing(t)
	appendLines(t, path, "6")
	waitStored(t, o, "svc", 6)
	ri.stop(t)
	o.Stop() // flushes anything that came after the six
	equal(t, data(t, stored(t, o, "svc")), numbers(1, 6))
}

func TestStateFileFindsAFileRotatedWhileStopped(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	path, state := filepath.Join(dir, "rot.log"), filepath.Join(dir, "state.json")
	appendLines(t, path)
	ri := startIngest(t, o, "-F", path, "--state-file", state)
	ri.waitFollowing(t)
	appendLines(t, path, "1", "2")
	waitStored(t, o, "rot", 2)
	ri.stop(t)

	// While oxingest is down: more lines, a rotation, lines in the new file.
	appendLines(t, path, "3")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "4", "5")
	ri = startIngest(t, o, "-F", path, "--state-file", state)
	got := waitStored(t, o, "rot", 5)
	ri.stop(t)
	equal(t, got, numbers(1, 5))
}

func TestStateFileIgnoresAReusedInode(t *testing.T) {
	// The state file remembers this inode with other first bytes and a far
	// offset: it was another file, deleted, whose inode the new one reuses. The
	// new file is read from its start.
	o := startOxd(t)
	dir := t.TempDir()
	path, state := filepath.Join(dir, "reuse.log"), filepath.Join(dir, "state.json")
	appendLines(t, path, "n1", "n2")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := devIno(fi)
	st := stateFile{Version: 1, Files: []savedFile{{Path: path, Type: "reuse",
		identity: identity{Dev: dev, Ino: ino, FPLen: 6, FP: "00" + strings.Repeat("ab", 31)}, Offset: 4}}}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(state, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ri := startIngest(t, o, "-F", path, "--state-file", state)
	got := waitStored(t, o, "reuse", 2)
	ri.stop(t)
	equal(t, got, []string{"n1", "n2"})
}

func TestStateFileKeepsAFileWithItsIdentity(t *testing.T) {
	o := startOxd(t)
	dir := t.TempDir()
	path, state := filepath.Join(dir, "id.log"), filepath.Join(dir, "state.json")
	appendLines(t, path, "head line")
	ri := startIngest(t, o, "-F", path, "--state-file", state)
	ri.waitFollowing(t)
	appendLines(t, path, "x")
	waitStored(t, o, "id", 1)
	ri.stop(t)
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	dev, ino := devIno(fi)
	if len(st.Files) != 1 || st.Files[0].Dev != dev || st.Files[0].Ino != ino || st.Files[0].Offset != fi.Size() ||
		st.Files[0].FPLen != int(fi.Size()) {
		t.Errorf("state %s, file dev %d ino %d size %d", b, dev, ino, fi.Size())
	}
}
