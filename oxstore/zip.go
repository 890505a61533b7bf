package main

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/blueox/ox/internal/cli"
)

const zipUsage = `usage: oxstore zip [options]

Compresses every finished log file that is not compressed yet with gzip
(<name>.log -> <name>.log.gz), then removes the original. The newest file of each
type (and host) is left alone while it may still be written: until its day
ends (for an hourly file, the end of its day too), plus five minutes; -v lists
the files skipped and why.

The compressed file is written under a temporary name, synced, renamed, and only
then is the original removed: a crash leaves the original, or both.

Options:
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
      --lock-file FILE exclusive lock
  -v                   progress on stderr
`

type zipCmd struct {
	app *app
	g   *globals
}

func (c *zipCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("zip", flag.ContinueOnError)
	c.g.register(fs)
	if err := c.app.parseFlags(fs, args, zipUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("zip takes no arguments, got %q", fs.Args())
	}
	return c.app.withLock(c.g, func() error {
		_, err := c.app.zipAll(ctx, c.g)
		return err
	})
}

// zipAll compresses every finished plain log file and returns how many.
func (a *app) zipAll(ctx context.Context, g *globals) (int, error) {
	files, err := scan(g.logPath, a.warnf)
	if err != nil {
		return 0, fmt.Errorf("zip: %w", err)
	}
	active := activeFiles(files, a.now())
	var todo []localFile
	var total int64
	skipped := 0
	for _, f := range files {
		if f.Compression != "" {
			continue
		}
		if why, ok := active[f.Path]; ok {
			a.logf(g, "zip: skipping %s: %s", f.Path, why)
			skipped++
			continue
		}
		todo = append(todo, f)
		total += f.Size
	}
	p := a.newProgress(g, "zip", len(todo), total)
	p.skipped = skipped
	for _, f := range todo {
		if err := ctx.Err(); err != nil {
			return p.files, fmt.Errorf("zip: %w", err)
		}
		if err := gzipFile(f.Path, f.Path+".gz"); err != nil {
			return p.files, fmt.Errorf("zip: %w", err)
		}
		p.add(f.Size)
		p.fileDone()
		a.logf(g, "zip: %s -> %s.gz", f.Path, f.Name)
	}
	p.done()
	return p.files, nil
}

// gzipFile writes src compressed to dst by way of a temporary file in the same
// folder: written, synced, renamed over dst, the folder synced, and only then
// src removed.
func gzipFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw, err := gzip.NewWriterLevel(tmp, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	zw.Name = filepath.Base(src)
	zw.ModTime = fi.ModTime()
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	os.Chtimes(tmp.Name(), fi.ModTime(), fi.ModTime())
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("remove %s after compressing it: %w", src, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
