package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/blueox/ox"
)

// localFile is one log file found under the log path.
type localFile struct {
	ox.LogFile
	Path    string
	Name    string
	Size    int64
	ModTime time.Time
}

// period is how long after its start a file can receive events: a day for
// daily files; for hourly files, until the next file of the same type starts
// (rotation may span several hours), at most to the end of that day.
func period(f ox.LogFile, next time.Time) time.Duration {
	dayEnd := f.Start.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if !f.Hourly {
		return 24 * time.Hour
	}
	if !next.IsZero() && next.After(f.Start) && next.Before(dayEnd) {
		return next.Sub(f.Start)
	}
	return dayEnd.Sub(f.Start)
}

// scan lists the log files under root: date folders one level down, and files
// directly in root. Names that do not parse are reported through warn and
// skipped; hidden files (zip's temporaries) are skipped silently.
func scan(root string, warn func(string, ...any)) ([]localFile, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read log path: %w", err)
	}
	var out []localFile
	add := func(dir string, e fs.DirEntry) {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			return
		}
		lf, err := ox.ParseLogFileName(name)
		if err != nil {
			warn("skipping %s: not a log file name", filepath.Join(dir, name))
			return
		}
		info, err := e.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				warn("skipping %s: %v", filepath.Join(dir, name), err)
			}
			return
		}
		out = append(out, localFile{LogFile: lf, Path: filepath.Join(dir, name), Name: name, Size: info.Size(), ModTime: info.ModTime()})
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() {
			sub := filepath.Join(root, e.Name())
			files, err := os.ReadDir(sub)
			if err != nil {
				warn("skipping %s: %v", sub, err)
				continue
			}
			for _, f := range files {
				if f.Type().IsRegular() {
					add(sub, f)
				} else if !strings.HasPrefix(f.Name(), ".") {
					warn("skipping %s: not a regular file", filepath.Join(sub, f.Name()))
				}
			}
			continue
		}
		if e.Type().IsRegular() {
			add(root, e)
		}
	}
	sortFiles(out)
	return out, nil
}

func sortFiles(files []localFile) {
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Path < b.Path
	})
}

// activeGrace is how long after its period a file still counts as written:
// a collector flushes within a second and moves to the next file when the
// period ends, so a few minutes cover a slow disk or a skewed clock.
const activeGrace = 5 * time.Minute

// activeFiles returns the files that may still be written, by path, with the
// reason: per type and host, the newest file, while its name's period
// (plus activeGrace) includes now. The period of the newest hourly file runs to
// the end of its day, as a collector rotating every few hours writes into it
// long after its hour. The modification time plays no part: a file copied in
// a minute ago still holds a finished period.
func activeFiles(files []localFile, now time.Time) map[string]string {
	type th struct{ typ, host string }
	newest := map[th]localFile{}
	for _, f := range files {
		k := th{f.Type, f.Host}
		if n, ok := newest[k]; !ok || f.Start.After(n.Start) {
			newest[k] = f
		}
	}
	active := map[string]string{}
	for k, f := range newest {
		end := f.Start.Add(period(f.LogFile, time.Time{}))
		if !now.UTC().Before(end.Add(activeGrace)) {
			continue
		}
		why := fmt.Sprintf("may still be written: the newest %s file, and its period (to %s UTC) has not ended",
			f.Type, end.UTC().Format("2006-01-02 15:04"))
		// Every file of the type with the newest date is active (the plain file
		// and a compressed one left by a crash).
		for _, g := range files {
			if g.Type == k.typ && g.Host == k.host && g.Start.Equal(f.Start) {
				active[g.Path] = why
			}
		}
	}
	return active
}
