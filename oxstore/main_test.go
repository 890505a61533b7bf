package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
	"github.com/blueox/ox/s3sig"
	"github.com/blueox/ox/s3sig/miniotest"
)

func TestMain(m *testing.M) {
	if os.Getenv("OXSTORE_AS_MAIN") == "1" {
		os.Exit(mainForMeasurement())
	}
	code := m.Run()
	miniotest.CloseShared()
	os.Exit(code)
}

// now is the fixed clock of the tests: 2026-11-24 15:00 UTC.
var now = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

type harness struct {
	t              testing.TB
	app            *app
	env            map[string]string
	stdout, stderr bytes.Buffer
	logPath        string
}

// newHarness returns an oxstore with its own log path, host "web1" and the
// fixed clock; with s3 it points at the shared MinIO and a fresh bucket.
func newHarness(t testing.TB, s3 bool) *harness {
	t.Helper()
	h := &harness{t: t, env: map[string]string{}, logPath: t.TempDir()}
	h.env["BLUEOX_LOG_PATH"] = h.logPath
	h.env["HOME"] = t.TempDir()
	if s3 {
		srv := miniotest.Shared(t)
		for k, v := range srv.Env() {
			h.env[k] = v
		}
		h.env["BLUEOX_BUCKET"] = h.newBucket("logs-")
	}
	h.app = &app{
		stdout: &h.stdout, stderr: &h.stderr,
		getenv:   func(k string) string { return h.env[k] },
		now:      func() time.Time { return now },
		hostname: func() (string, error) { return "web1", nil },
		dir:      t.TempDir(),
	}
	return h
}

func (h *harness) client() *s3sig.Client {
	h.t.Helper()
	cfg, err := s3sig.ConfigFromEnv(func(k string) string { return h.env[k] })
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := s3sig.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) newBucket(prefix string) string {
	h.t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if err := h.client().CreateBucket(context.Background(), name); err != nil {
		h.t.Fatal(err)
	}
	return name
}

func (h *harness) run(args ...string) error {
	h.t.Helper()
	h.stdout.Reset()
	h.stderr.Reset()
	return h.app.run(context.Background(), args)
}

func (h *harness) mustRun(args ...string) {
	h.t.Helper()
	if err := h.run(args...); err != nil {
		h.t.Fatalf("oxstore %s: %v\nstderr: %s", strings.Join(args, " "), err, h.stderr.String())
	}
}

// writeLog writes a log file at <log path>/<day>/<name> with modification
// time mtime.
func (h *harness) writeLog(name string, data []byte, mtime time.Time) string {
	h.t.Helper()
	day := strings.SplitN(strings.TrimSuffix(name[strings.LastIndex(name, "-")+1:], ".log"), ".", 2)[0][:8]
	dir := filepath.Join(h.logPath, day)
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	os.Chtimes(p, mtime, mtime)
	return p
}

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Fixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tree returns every file under root with its contents.
func tree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

func gunzip(t testing.TB, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestZipLeavesTheNewestFileOfATypeAlone(t *testing.T) {
	old := now.Add(-48 * time.Hour)
	tests := []struct {
		name   string
		files  map[string]time.Time // name -> mtime
		zipped []string
		kept   []string
	}{
		{"today's daily file is being written",
			map[string]time.Time{"request-20261122.log": old, "request-20261123.log": old, "request-20261124.log": now.Add(-time.Minute)},
			[]string{"request-20261122.log", "request-20261123.log"}, []string{"request-20261124.log"}},
		{"each type keeps its own newest file",
			map[string]time.Time{"request-20261123.log": old, "request.db-20261123.log": old, "request.db-20261124.log": now},
			[]string{"request-20261123.log", "request.db-20261123.log"}, []string{"request.db-20261124.log"}},
		{"a newest file older than an hour and idle is finished",
			map[string]time.Time{"request-20261120.log": old},
			[]string{"request-20261120.log"}, nil},
		{"an hourly file still written after its hour is kept",
			map[string]time.Time{"request-2026112412.log": now.Add(-30 * time.Minute)},
			nil, []string{"request-2026112412.log"}},
		{"an hourly file idle for over an hour is finished",
			map[string]time.Time{"request-2026112412.log": now.Add(-90 * time.Minute)},
			[]string{"request-2026112412.log"}, nil},
	}
	data := fixture(t, "logs-daily/20261124/request-20261124.log")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			paths := map[string]string{}
			for name, mtime := range tc.files {
				paths[name] = h.writeLog(name, data, mtime)
			}
			h.mustRun("zip")
			for _, name := range tc.zipped {
				if _, err := os.Stat(paths[name]); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: original still there (%v)", name, err)
				}
				if got := gunzip(t, paths[name]+".gz"); !bytes.Equal(got, data) {
					t.Errorf("%s.gz does not hold the original", name)
				}
			}
			for _, name := range tc.kept {
				if b, err := os.ReadFile(paths[name]); err != nil || !bytes.Equal(b, data) {
					t.Errorf("%s was touched: %v", name, err)
				}
				if _, err := os.Stat(paths[name] + ".gz"); err == nil {
					t.Errorf("%s was compressed", name)
				}
			}
		})
	}
}

func TestZipAfterACrashKeepsTheData(t *testing.T) {
	h := newHarness(t, false)
	data := fixture(t, "logs-daily/20261124/request-20261124.log")
	p := h.writeLog("request-20261122.log", data, now.Add(-48*time.Hour))
	// A crash between rename and remove leaves both; a stale temporary too.
	os.WriteFile(p+".gz", []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(p), ".request-20261122.log.gz.123.tmp"), []byte("junk"), 0o644)
	h.mustRun("zip")
	if got := gunzip(t, p+".gz"); !bytes.Equal(got, data) {
		t.Error("the compressed file does not hold the original")
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Error("original left after zip")
	}
}

func TestZipWarnsAboutStrangeNames(t *testing.T) {
	h := newHarness(t, false)
	os.MkdirAll(filepath.Join(h.logPath, "20261120"), 0o755)
	os.WriteFile(filepath.Join(h.logPath, "20261120", "notes.txt"), []byte("x"), 0o644)
	h.mustRun("zip")
	if !strings.Contains(h.stderr.String(), "notes.txt") {
		t.Errorf("no warning about notes.txt: %q", h.stderr.String())
	}
}

func TestPruneRemovesOldDateFoldersAndSaysSo(t *testing.T) {
	h := newHarness(t, false)
	for _, name := range []string{"request-20261110.log", "request-20261116.log", "request-20261117.log", "request-20261124.log"} {
		h.writeLog(name, []byte("x"), now)
	}
	h.mustRun("prune", "--retain-days", "7")
	out := h.stdout.String()
	for _, gone := range []string{"20261110", "20261116"} {
		if !strings.Contains(out, gone) {
			t.Errorf("prune did not report %s: %q", gone, out)
		}
		if _, err := os.Stat(filepath.Join(h.logPath, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", gone)
		}
	}
	for _, kept := range []string{"20261117", "20261124"} {
		if _, err := os.Stat(filepath.Join(h.logPath, kept)); err != nil {
			t.Errorf("%s removed", kept)
		}
	}
}

func TestUploadKeyLayoutAndSkipping(t *testing.T) {
	h := newHarness(t, true)
	old := now.Add(-48 * time.Hour)
	data := fixture(t, "logs-daily/20261124/request-20261124.log")
	h.writeLog("request-20261122.log", data, old)
	h.writeLog("request-2026112312.log", data, old)
	h.writeLog("request-2026112314.log", data, old)
	h.writeLog("request-20261124.log", data, now) // active: not uploaded
	h.writeLog("request.db-20261123.log.bz2", fixture(t, "logs-zipped/20261123/request-20261123.log.bz2"), old)
	h.mustRun("zip")
	h.mustRun("upload", "-v")
	if !strings.Contains(h.stderr.String(), "upload: 4/4 files") {
		t.Errorf("no progress with -v:\n%s", h.stderr.String())
	}

	ctx := context.Background()
	var got []string
	for o, err := range h.client().ListObjectsV2(ctx, h.env["BLUEOX_BUCKET"], s3sig.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Key)
	}
	want := []string{
		"20261122/request-20261122-web1.log.gz",
		"20261123/request-2026112312-web1.log.gz",
		"20261123/request-2026112314-web1.log.gz",
		"20261123/request.db-20261123-web1.log.bz2",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys:\n%v\nwant:\n%v", got, want)
	}

	h.mustRun("upload", "-v")
	if n := strings.Count(h.stderr.String(), "already in the bucket"); n != 4 {
		t.Errorf("second upload skipped %d files, want 4:\n%s", n, h.stderr.String())
	}
}

func TestUploadReplacesAnObjectOfAnotherSize(t *testing.T) {
	h := newHarness(t, true)
	h.writeLog("request-20261122.log.gz", []byte("new and longer contents"), now.Add(-48*time.Hour))
	key := "20261122/request-20261122-web1.log.gz"
	c := h.client()
	ctx := context.Background()
	c.PutObject(ctx, h.env["BLUEOX_BUCKET"], key, strings.NewReader("short"), 5, s3sig.PutOptions{})
	h.mustRun("upload")
	info, err := c.HeadObject(ctx, h.env["BLUEOX_BUCKET"], key)
	if err != nil || info.Size != int64(len("new and longer contents")) {
		t.Errorf("object not replaced: %+v %v", info, err)
	}
}

// days of test logs: each file holds different events, so order mistakes show.
func writeDays(t testing.TB, h *harness) (want map[string][]byte) {
	t.Helper()
	old := now.Add(-72 * time.Hour)
	base := fixture(t, "logs-daily/20261124/request-20261124.log")
	db := fixture(t, "logs-daily/20261124/request.db-20261124.log")
	cache := fixture(t, "logs-daily/20261124/request.cache-20261124.log")
	want = map[string][]byte{
		"request-20261120.log":   base,
		"request-20261121.log":   db,
		"request-2026112200.log": cache,
		"request-2026112212.log": append(append([]byte{}, base...), db...),
		"request-20261123.log":   cache, // outside the range asked for below
	}
	for name, data := range want {
		h.writeLog(name, data, old)
	}
	return want
}

func TestCatFromTheBucketAcrossADateRangeEqualsTheOriginals(t *testing.T) {
	h := newHarness(t, true)
	files := writeDays(t, h)
	// An original bzip2 archive in the bucket is read too.
	bz := fixture(t, "logs-zipped/20261123/request-20261123.log.bz2")
	h.client().PutObject(context.Background(), h.env["BLUEOX_BUCKET"], "20261119/request-20261119-web0.log.bz2",
		bytes.NewReader(bz), int64(len(bz)), s3sig.PutOptions{})
	h.mustRun("archive", "--retain-days", "30")

	bzPlain := gunzipAny(t, bz)
	want := append([]byte{}, bzPlain...)
	for _, name := range []string{"request-20261120.log", "request-20261121.log", "request-2026112200.log", "request-2026112212.log"} {
		want = append(want, files[name]...)
	}
	h.mustRun("cat", "request", "--start", "20261119", "--end", "20261122")
	if !bytes.Equal(h.stdout.Bytes(), want) {
		t.Errorf("cat from the bucket gave %d bytes, want %d (the originals in time order)", h.stdout.Len(), len(want))
	}

	// The local copy gives the same, less the archive that is only in the bucket.
	h.mustRun("cat", "--local", "request", "--start", "20261120", "--end", "20261122 23:59")
	if !bytes.Equal(h.stdout.Bytes(), want[len(bzPlain):]) {
		t.Errorf("cat --local gave %d bytes, want %d", h.stdout.Len(), len(want)-len(bzPlain))
	}

	// A range of months lists the bucket once instead of day by day.
	h.mustRun("cat", "request", "--start", "20261001", "--end", "20261130")
	if all := append(want, files["request-20261123.log"]...); !bytes.Equal(h.stdout.Bytes(), all) {
		t.Errorf("cat of two months gave %d bytes, want %d", h.stdout.Len(), len(all))
	}

	// An hour range picks the hourly file covering it.
	h.mustRun("cat", "request", "--start", "20261122 13:00", "--end", "20261122 13:30")
	if !bytes.Equal(h.stdout.Bytes(), files["request-2026112212.log"]) {
		t.Errorf("cat of 13:00-13:30 gave %d bytes, want the 12h file", h.stdout.Len())
	}
}

func gunzipAny(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := catOne(context.Background(), source{open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDownloadFetchesTheRangeAndSkipsExistingFiles(t *testing.T) {
	h := newHarness(t, true)
	writeDays(t, h)
	h.mustRun("archive", "--retain-days", "30")
	os.WriteFile(filepath.Join(h.app.dir, "request-20261121-web1.log.gz"), []byte("mine"), 0o644)
	h.mustRun("download", "request", "--start", "20261121", "--end", "20261122")
	got := tree(t, h.app.dir)
	want := []string{"request-20261121-web1.log.gz", "request-2026112200-web1.log.gz", "request-2026112212-web1.log.gz"}
	if fmt.Sprint(keys(got)) != fmt.Sprint(want) {
		t.Errorf("downloaded %v, want %v", keys(got), want)
	}
	if got["request-20261121-web1.log.gz"] != "mine" {
		t.Error("an existing file was overwritten")
	}
}

func TestArchiveToAMissingBucketFailsAndDeletesNothing(t *testing.T) {
	h := newHarness(t, true)
	writeDays(t, h)
	h.writeLog("request-20261101.log.gz", []byte("old archive"), now.Add(-500*time.Hour))
	before := tree(t, h.logPath)
	h.env["BLUEOX_BUCKET"] = "no-such-bucket-for-ox"
	err := h.run("archive", "--retain-days", "1")
	if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("err = %v, want NoSuchBucket", err)
	}
	if after := tree(t, h.logPath); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
}

func TestArchiveDeletesOnlyWhatIsConfirmedInTheBucket(t *testing.T) {
	h := newHarness(t, true)
	old := now.Add(-500 * time.Hour)
	good := h.writeLog("request-20261101.log", []byte("good data"), old)
	bad := h.writeLog("request.db-20261101.log", []byte("data that will differ"), old)
	plain := h.writeLog("other-20261101.txt", []byte("not a log"), old)
	h.mustRun("zip")
	h.mustRun("upload")
	// Someone replaces one object with different bytes of the same size.
	gz, _ := os.ReadFile(bad + ".gz")
	tampered := bytes.Clone(gz)
	tampered[len(tampered)-5] ^= 0xff
	if _, err := h.client().PutObject(context.Background(), h.env["BLUEOX_BUCKET"], "20261101/request.db-20261101-web1.log.gz",
		bytes.NewReader(tampered), int64(len(tampered)), s3sig.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// upload skips same-size keys, so archive sees the tampered object.
	err := h.run("archive", "--retain-days", "7")
	if err == nil || !strings.Contains(err.Error(), "kept 2") {
		t.Fatalf("err = %v, want kept 2\nstderr: %s", err, h.stderr.String())
	}
	if _, err := os.Stat(good + ".gz"); !errors.Is(err, os.ErrNotExist) {
		t.Error("the confirmed file was not removed")
	}
	for _, p := range []string{bad + ".gz", plain} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed though not safely in the bucket", p)
		}
	}
	if !strings.Contains(h.stderr.String(), "differs") {
		t.Errorf("no word about the differing object: %s", h.stderr.String())
	}
}

func TestVerifyListsWhatDiffers(t *testing.T) {
	h := newHarness(t, true)
	old := now.Add(-48 * time.Hour)
	h.writeLog("request-20261120.log.gz", []byte("same"), old)
	h.writeLog("request-20261121.log.gz", []byte("local"), old)
	h.mustRun("upload")
	h.writeLog("request-20261121.log.gz", []byte("LOCAL"), old) // same size, other bytes
	h.writeLog("request-20261122.log.gz", []byte("new"), old)
	err := h.run("verify")
	if err == nil || !strings.Contains(err.Error(), "2 file(s) differ") {
		t.Fatalf("err = %v", err)
	}
	out := h.stdout.String()
	for _, want := range []string{"checksum", "20261121/request-20261121-web1.log.gz", "missing", "20261122/request-20261122-web1.log.gz"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "20261120") {
		t.Errorf("verify lists a matching file:\n%s", out)
	}
}

func TestS3ProblemsGiveOneLineErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(h *harness)
		want string
	}{
		{"wrong secret names the signature", func(h *harness) { h.env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret" }, "SignatureDoesNotMatch"},
		{"missing credentials", func(h *harness) { delete(h.env, "AWS_ACCESS_KEY_ID"); delete(h.env, "AWS_SECRET_ACCESS_KEY") }, "no credentials"},
		{"missing bucket", func(h *harness) { h.env["BLUEOX_BUCKET"] = "not-there-at-all" }, "bucket does not exist"},
		{"unreachable endpoint", func(h *harness) {
			h.env["AWS_ENDPOINT_URL_S3"] = fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
			h.env["AWS_MAX_ATTEMPTS"] = "1"
		}, "unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, true)
			h.writeLog("request-20261120.log.gz", []byte("x"), now.Add(-48*time.Hour))
			tc.edit(h)
			for _, cmd := range [][]string{{"upload"}, {"archive"}, {"verify"}, {"cat", "request"}, {"download", "request"}} {
				err := h.run(cmd...)
				if err == nil {
					t.Fatalf("%s: no error", cmd[0])
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
					t.Errorf("%s: error %q should be one line naming %q", cmd[0], msg, tc.want)
				}
			}
		})
	}
}

func TestDottedBucketName(t *testing.T) {
	h := newHarness(t, true)
	h.env["BLUEOX_BUCKET"] = h.newBucket("logs.example.")
	h.writeLog("request-20261120.log.gz", []byte("dots"), now.Add(-48*time.Hour))
	h.mustRun("upload")
	h.mustRun("cat", "request", "--start", "20261120")
	if h.stdout.String() != "dots" {
		t.Errorf("cat gave %q", h.stdout.String())
	}
}

func TestLockFileStopsASecondRun(t *testing.T) {
	h := newHarness(t, false)
	lock := filepath.Join(t.TempDir(), "oxstore.lock")
	unlock, err := lockFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	err = h.run("--lock-file", lock, "zip")
	if err == nil || !strings.Contains(err.Error(), "held by another oxstore") {
		t.Errorf("err = %v, want the lock to be refused", err)
	}
	unlock()
	h.mustRun("zip", "--lock-file", lock)
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"help", []string{"-h"}, 0, ""},
		{"command help", []string{"cat", "-h"}, 0, ""},
		{"bad flag", []string{"zip", "--nope"}, 2, "-nope"},
		{"cat needs a type", []string{"cat", "--local"}, 2, "needs a TYPE"},
		{"bad start date", []string{"cat", "request", "--local", "--start", "2026-11-24"}, 2, "bad date"},
		{"bad hour", []string{"cat", "request", "--local", "--start", "20261124 25:00"}, 2, "bad date"},
		{"end before start", []string{"cat", "request", "--local", "--start", "20261124", "--end", "20261120"}, 2, "before"},
		{"upload without a bucket", []string{"upload"}, 2, "no bucket"},
		{"cat without a bucket names --local too", []string{"cat", "--log-path=/var/log/blueox", "--start=20261124", "--end=20261125", "request"}, 2,
			"oxstore: cat: no bucket: give --bucket or set BLUEOX_BUCKET, or add --local to read the files under --log-path (/var/log/blueox)\n"},
		{"negative retain", []string{"prune", "--retain-days", "-1"}, 2, "0 or more"},
		{"type that is a path", []string{"cat", "a/../etc", "--local"}, 2, "path separator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			err := h.run(tc.args...)
			var errOut bytes.Buffer
			if code := program.ExitCode(err, &errOut); code != tc.code {
				t.Errorf("exit %d (%v), want %d", code, err, tc.code)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.want)
			}
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	var g globals
	g.defaults(func(string) string { return "" })
	if g.logPath != "/var/log/blueox" || g.bucket != "" {
		t.Errorf("defaults %+v", g)
	}
	env := map[string]string{"BLUEOX_LOG_PATH": "/x", "BLUEOX_BUCKET": "b"}
	g.defaults(func(k string) string { return env[k] })
	if g.logPath != "/x" || g.bucket != "b" {
		t.Errorf("from env %+v", g)
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add("20261124", "20261124 23:59")
	f.Add("20261124 12:00", "")
	f.Add("99999999", "0")
	f.Fuzz(func(t *testing.T, start, end string) {
		r, err := parseRange(start, end, now)
		if err == nil && r.end.Before(r.start) {
			t.Fatalf("accepted a range that ends before it starts: %v", r)
		}
		if err == nil && r.numDays() <= 31 && int64(len(r.days())) != r.numDays() {
			t.Fatalf("days() gives %d days, numDays %d", len(r.days()), r.numDays())
		}
	})
}

func record(t testing.TB, host string, end time.Time) []byte {
	t.Helper()
	b, err := ox.AppendRecord(nil, ox.Record{ID: host + end.Format("150405"), Type: "request", Host: host, PID: 1,
		Start: end.Add(-time.Second), End: end, Body: map[string]any{"n": end.Second()}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestCatMergesHostsInTimeOrder(t *testing.T) {
	h := newHarness(t, true)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a1, a2 := record(t, "web1", t0.Add(1*time.Second)), record(t, "web1", t0.Add(3*time.Second))
	b1, b2 := record(t, "web2", t0.Add(2*time.Second)), record(t, "web2", t0.Add(4*time.Second))
	c1 := record(t, "web1", t0.Add(25*time.Hour)) // next day, alone
	ctx := context.Background()
	put := func(key string, data []byte) {
		if _, err := h.client().PutObject(ctx, h.env["BLUEOX_BUCKET"], key, bytes.NewReader(data), int64(len(data)), s3sig.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("20261120/request-20261120-web1.log.gz", gzipBytes(t, append(append([]byte{}, a1...), a2...)))
	truncated := append(append(append([]byte{}, b1...), b2...), b2[:len(b2)/2]...)
	put("20261120/request-20261120-web2.log", truncated)
	put("20261121/request-20261121-web1.log", c1)

	h.mustRun("cat", "request", "--start", "20261120", "--end", "20261121")
	want := bytes.Join([][]byte{a1, b1, a2, b2, c1}, nil)
	if !bytes.Equal(h.stdout.Bytes(), want) {
		t.Errorf("cat gave %d bytes, want %d: events of both hosts in time order", h.stdout.Len(), len(want))
	}
	if !strings.Contains(h.stderr.String(), "request-20261120-web2.log") {
		t.Errorf("no warning about the truncated file: %q", h.stderr.String())
	}
}
