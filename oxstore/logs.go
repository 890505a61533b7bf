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

// activeFiles returns the paths of the files that may still be written: per
// type, the newest file, unless its period ended over an hour ago and it has
// not been modified for an hour (a collector rotating every few hours writes
// into an "hourly" file long after its hour).
func activeFiles(files []localFile, now time.Time) map[string]bool {
	newest := map[string]localFile{}
	for _, f := range files {
		if n, ok := newest[f.Type]; !ok || f.Start.After(n.Start) {
			newest[f.Type] = f
		}
	}
	cutoff := now.UTC().Add(-time.Hour)
	active := map[string]bool{}
	for _, f := range newest {
		span := 24 * time.Hour
		if f.Hourly {
			span = time.Hour
		}
		ended := !f.Start.Add(span).After(cutoff)
		idle := f.ModTime.Before(cutoff)
		if ended && idle {
			continue
		}
		// Every file of the type with the newest date is active (the plain file
		// and a compressed one left by a crash).
		for _, g := range files {
			if g.Type == f.Type && g.Start.Equal(f.Start) {
				active[g.Path] = true
			}
		}
	}
	return active
}
