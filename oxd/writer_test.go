package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

func newTestWriter(t *testing.T, rotate int) (*fileWriter, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logs")
	w, err := newFileWriter(dir, rotate, newLogger(&testenv.SyncBuffer{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, dir
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWriterRotatesAtPeriodBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate int
		writes []string // times; each writes "<index>"
		want   map[string]string
	}{
		{"daily at midnight", 0,
			[]string{"2026-11-24 23:59:59", "2026-11-25 00:00:00", "2026-11-25 12:00:00"},
			map[string]string{"20261124/t-20261124.log": "0", "20261125/t-20261125.log": "12"}},
		{"every 2 hours", 2,
			[]string{"2026-11-24 12:00:00", "2026-11-24 13:59:59", "2026-11-24 14:00:00"},
			map[string]string{"20261124/t-2026112412.log": "01", "20261124/t-2026112414.log": "2"}},
		{"every hour across midnight", 1,
			[]string{"2026-11-24 23:30:00", "2026-11-25 00:10:00"},
			map[string]string{"20261124/t-2026112423.log": "0", "20261125/t-2026112500.log": "1"}},
		{"every 5 hours: the last period ends at midnight", 5,
			[]string{"2026-11-24 20:00:00", "2026-11-24 23:59:00", "2026-11-25 00:00:00"},
			map[string]string{"20261124/t-2026112420.log": "01", "20261125/t-2026112500.log": "2"}},
		{"every 12 hours", 12,
			[]string{"2026-11-24 11:59:59", "2026-11-24 12:00:00", "2026-11-24 23:00:00"},
			map[string]string{"20261124/t-2026112400.log": "0", "20261124/t-2026112412.log": "12"}},
		{"clock set back", 0,
			[]string{"2026-11-25 00:00:01", "2026-11-24 23:59:59"},
			map[string]string{"20261125/t-20261125.log": "0", "20261124/t-20261124.log": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, dir := newTestWriter(t, tc.rotate)
			for i, s := range tc.writes {
				w.Write("t", []byte{byte('0' + i)}, at(s))
			}
			w.Close()
			got := tree(t, dir)
			if len(got) != len(tc.want) {
				t.Fatalf("files %v, want %v", keys(got), keys(tc.want))
			}
			for name, content := range tc.want {
				if string(got[name]) != content {
					t.Errorf("%s = %q, want %q", name, got[name], content)
				}
			}
		})
	}
}

func TestWriterTickClosesFilesOfAFinishedPeriod(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	w.Write("t", []byte("a"), at("2026-11-24 23:59:59"))
	w.Tick(at("2026-11-25 00:00:00"))
	if w.OpenFiles() != 0 {
		t.Fatalf("%d files open after the day ended", w.OpenFiles())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "20261124/t-20261124.log")); string(b) != "a" {
		t.Fatalf("file holds %q", b)
	}
}

func TestWriterReopensDeletedAndMovedFiles(t *testing.T) {
	now := at("2026-11-24 13:00:00")
	for _, tc := range []struct {
		name    string
		disturb func(path string) error
		old     string // what the moved-away file holds, if any
	}{
		{"deleted", os.Remove, ""},
		{"moved away", func(p string) error { return os.Rename(p, p+".1") }, "first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, dir := newTestWriter(t, 0)
			path := filepath.Join(dir, "20261124", "t-20261124.log")
			w.Write("t", []byte("first"), now)
			w.Tick(now)
			if err := tc.disturb(path); err != nil {
				t.Fatal(err)
			}
			w.Write("t", []byte("second"), now)
			w.Tick(now)
			w.Write("t", []byte("third"), now)
			w.Flush()
			if b, err := os.ReadFile(path); err != nil || string(b) != "secondthird" {
				t.Fatalf("reopened file holds %q (%v)", b, err)
			}
			if tc.old != "" {
				if b, _ := os.ReadFile(path + ".1"); string(b) != tc.old {
					t.Fatalf("moved file holds %q", b)
				}
			}
			if w.stats.Reopened != 1 {
				t.Fatalf("reopened %d times", w.stats.Reopened)
			}
		})
	}
}

func TestWriterBoundsOpenFiles(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	w.maxOpen = 2
	now := at("2026-11-24 13:00:00")
	for i, typ := range []string{"a", "b", "c", "a", "d"} {
		w.Write(typ, []byte{byte('0' + i)}, now.Add(time.Duration(i)*time.Second))
		if w.OpenFiles() > 2 {
			t.Fatalf("%d files open", w.OpenFiles())
		}
	}
	w.Close()
	got := tree(t, dir)
	want := map[string]string{"a": "03", "b": "1", "c": "2", "d": "4"}
	for typ, content := range want {
		if s := string(got["20261124/"+typ+"-20261124.log"]); s != content {
			t.Errorf("%s: %q, want %q", typ, s, content)
		}
	}
}

func TestWriterFlushesLargeBuffersWithoutATick(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	w.bufSize = 100
	now := at("2026-11-24 13:00:00")
	chunk := bytes.Repeat([]byte("x"), 60)
	w.Write("t", chunk, now)
	w.Write("t", chunk, now) // over 100: the first is written before buffering this one
	b, _ := os.ReadFile(filepath.Join(dir, "20261124", "t-20261124.log"))
	if len(b) != 60 {
		t.Fatalf("file holds %d bytes before a tick, want 60", len(b))
	}
}

func TestWriterKeepsRunningWhenTheFileCannotBeOpened(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	// A plain file where the day folder should be.
	if err := os.WriteFile(filepath.Join(dir, "20261124"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.Write("t", []byte("x"), at("2026-11-24 13:00:00"))
	if w.stats.WriteErrors != 1 || w.stats.LostOnErrors != 1 {
		t.Fatalf("stats %+v", w.stats)
	}
}

func TestWriterCountsEachFailureByReason(t *testing.T) {
	w, dir := newTestWriter(t, 0)
	if err := os.WriteFile(filepath.Join(dir, "20261124"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.Write("t", []byte("x"), at("2026-11-24 13:00:00")) // cannot open: a file holds the folder's name
	w.Write("t", []byte("x"), at("2026-11-24 13:00:01"))
	if err := os.Remove(filepath.Join(dir, "20261124")); err != nil {
		t.Fatal(err)
	}
	w.Write("t", []byte("y"), at("2026-11-24 13:00:02"))
	w.Write("t", []byte("z"), at("2026-11-24 13:00:02"))
	// The disk refuses the buffered events: a file that is not open for writing.
	ro, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	lf := w.files["t"]
	lf.f.Close()
	lf.f = ro
	w.Flush()
	want := [numErrReasons]uint64{errOpen: 2, errWrite: 1}
	if w.stats.Errors != want || w.stats.LostOnErrors != 4 || w.stats.WriteErrors != 3 {
		t.Fatalf("stats %+v, want errors %v and 4 events lost", w.stats, want)
	}
	got := w.stats.errorCounts()
	if got["open"] != uint64(2) || got["write"] != uint64(1) || got["reopen"] != uint64(0) || got["bad_path"] != uint64(0) {
		t.Fatalf("STATUS files.errors %v", got)
	}
}
