package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/blueox/ox/internal/cli"
)

const pruneUsage = `usage: oxstore prune [--retain-days N] [options]

Removes the date folders (<log-path>/<YYYYMMDD>) older than N days, UTC
(default 7), whatever they hold, and prints each folder it removed. This is the
original's age-based prune; 'oxstore archive' prunes only what is in the bucket.

Options:
      --retain-days N  days to keep (default 7)
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
      --lock-file FILE exclusive lock
  -v                   details on stderr
`

type pruneCmd struct {
	app        *app
	g          *globals
	retainDays int
}

func (c *pruneCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	c.g.register(fs)
	fs.IntVar(&c.retainDays, "retain-days", 7, "days to keep")
	if err := c.app.parseFlags(fs, args, pruneUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("prune takes no arguments, got %q", fs.Args())
	}
	if c.retainDays < 0 {
		return cli.Usagef("--retain-days must be 0 or more")
	}
	return c.app.withLock(c.g, func() error {
		reportNotDateDirs(c.g.logPath, func(format string, args ...any) { c.app.logf(c.g, "prune: "+format, args...) })
		dirs, err := oldDateDirs(c.g.logPath, c.app.now(), c.retainDays)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		for _, d := range dirs {
			if err := os.RemoveAll(d.path); err != nil {
				return fmt.Errorf("prune: %w", err)
			}
			fmt.Fprintf(c.app.stdout, "removed %s\n", d.path)
		}
		return nil
	})
}

type dateDir struct {
	path string
	day  time.Time
}

// oldDateDirs lists the YYYYMMDD folders under root whose day is more than
// retainDays before now's day (UTC), oldest first.
func oldDateDirs(root string, now time.Time, retainDays int) ([]dateDir, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read log path: %w", err)
	}
	today := now.UTC().Truncate(24 * time.Hour)
	cutoff := today.AddDate(0, 0, -retainDays)
	var out []dateDir
	for _, e := range entries {
		if !e.IsDir() || len(e.Name()) != 8 {
			continue
		}
		day, err := time.Parse("20060102", e.Name())
		if err != nil {
			continue
		}
		if day.Before(cutoff) {
			out = append(out, dateDir{filepath.Join(root, e.Name()), day})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].day.Before(out[j].day) })
	return out, nil
}

// reportNotDateDirs names, through skip, what prune leaves alone under root
// because it is not a YYYYMMDD folder.
func reportNotDateDirs(root string, skip func(string, ...any)) {
	entries, _ := os.ReadDir(root) // oldDateDirs reports a read error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := time.Parse("20060102", e.Name()); err != nil || !e.IsDir() || len(e.Name()) != 8 {
			skip("skipping %s: not a YYYYMMDD date folder", filepath.Join(root, e.Name()))
		}
	}
}
