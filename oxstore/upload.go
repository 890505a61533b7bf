package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
)

const uploadUsage = `usage: oxstore upload [--zipped-only] [options]

Copies finished log files to the bucket under
<YYYYMMDD>/<type>-<date>-<hostname>.log[.gz|.bz2]. A key that already exists with
the same size is skipped; any other is uploaded again. Each body goes with its
MD5 and SHA-256, so S3 refuses a corrupted upload. Files that may still be
written (see 'oxstore zip -h') are not uploaded.

Options:
      --zipped-only    upload compressed files only
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    bucket (default $BLUEOX_BUCKET)
      --lock-file FILE exclusive lock
  -v                   progress on stderr
`

type uploadCmd struct {
	app        *app
	g          *globals
	zippedOnly bool
}

func (c *uploadCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	c.g.register(fs)
	fs.BoolVar(&c.zippedOnly, "zipped-only", false, "compressed files only")
	if err := c.app.parseFlags(fs, args, uploadUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("upload takes no arguments, got %q", fs.Args())
	}
	st, err := c.app.openStore(c.g)
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error {
		if err := st.Check(ctx); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		_, err := c.app.uploadAll(ctx, c.g, st, c.zippedOnly)
		return err
	})
}

// objectKey is where a local file goes in the bucket:
// <YYYYMMDD>/<type>-<date>-<host>.log[.gz|.bz2]. A name that already carries a
// host keeps it.
func objectKey(f ox.LogFile, host string) string {
	if f.Host == "" {
		f.Host = host
	}
	return ox.LogDir(f.Start) + "/" + f.Name()
}

func (a *app) host() (string, error) {
	h, err := a.hostname()
	if err != nil {
		return "", fmt.Errorf("host name: %w", err)
	}
	if h == "" {
		return "", errors.New("host name is empty")
	}
	return h, nil
}

// uploadAll uploads the finished files and returns the keys now in the bucket
// for them, by local path.
func (a *app) uploadAll(ctx context.Context, g *globals, st store, zippedOnly bool) (map[string]string, error) {
	done, _, err := a.uploadFiles(ctx, g, st, zippedOnly)
	return done, err
}

// uploadFiles is uploadAll that also returns the files this run uploaded
// (not those already in the bucket).
func (a *app) uploadFiles(ctx context.Context, g *globals, st store, zippedOnly bool) (done map[string]string, fresh []localFile, err error) {
	host, err := a.host()
	if err != nil {
		return nil, nil, fmt.Errorf("upload: %w", err)
	}
	files, err := scan(g.logPath, a.warnf)
	if err != nil {
		return nil, nil, fmt.Errorf("upload: %w", err)
	}
	active := activeFiles(files, a.now())
	var todo []localFile
	var total int64
	skipped := 0
	for _, f := range files {
		if why, ok := active[f.Path]; ok {
			a.logf(g, "upload: skipping %s: %s", f.Path, why)
			skipped++
			continue
		}
		if zippedOnly && f.Compression == "" {
			a.logf(g, "upload: skipping %s: not compressed, and only compressed files are uploaded", f.Path)
			skipped++
			continue
		}
		todo = append(todo, f)
		total += f.Size
	}
	done = map[string]string{}
	p := a.newProgress(g, "upload", len(todo), total)
	p.skipped = skipped
	for _, f := range todo {
		key := objectKey(f.LogFile, host)
		info, err := st.Head(ctx, key)
		switch {
		case err == nil && info.Size == f.Size:
			a.logf(g, "upload: %s already in the bucket as %s", f.Path, key)
			p.add(f.Size)
			p.fileDone()
			done[f.Path] = key
			continue
		case err != nil && !errors.Is(err, errNotFound):
			return done, fresh, fmt.Errorf("upload %s: %w", key, err)
		}
		if err := putFile(ctx, st, f.Path, key, p.add); err != nil {
			return done, fresh, fmt.Errorf("upload %s: %w", key, err)
		}
		p.fileDone()
		done[f.Path] = key
		fresh = append(fresh, f)
		a.logf(g, "upload: %s -> %s", f.Path, key)
	}
	p.done()
	return done, fresh, nil
}

func putFile(ctx context.Context, st store, file, key string, progress func(int64)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return st.Put(ctx, key, f, fi.Size(), progress)
}

const archiveUsage = `usage: oxstore archive [--retain-days N] [--export DEST] [options]

Zips finished files, uploads the compressed ones, then removes the date folders
older than N days (default 7), but only the files whose object is confirmed in
the bucket with the same size and checksum. Anything not safely in the bucket is
kept and reported; a folder is removed only once it is empty.

With --export, each file this run uploads is also exported to DEST (a folder
or s3://bucket/prefix) as 'oxstore export' does, so the query table grows
with every run.

Options:
      --retain-days N  days to keep locally (default 7)
      --export DEST    also export the uploaded files to DEST
      --part-mb N      export part size in MiB of JSON (default 128)
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    bucket (default $BLUEOX_BUCKET)
      --lock-file FILE exclusive lock
  -v                   progress on stderr
`

type archiveCmd struct {
	app        *app
	g          *globals
	retainDays int
	export     string
	partMB     int
}

func (c *archiveCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	c.g.register(fs)
	fs.IntVar(&c.retainDays, "retain-days", 7, "days to keep locally")
	fs.StringVar(&c.export, "export", "", "export destination")
	fs.IntVar(&c.partMB, "part-mb", 128, "export part size in MiB")
	if err := c.app.parseFlags(fs, args, archiveUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("archive takes no arguments, got %q", fs.Args())
	}
	if c.retainDays < 0 {
		return cli.Usagef("--retain-days must be 0 or more")
	}
	var dest destination
	if c.export != "" {
		var err error
		if dest, err = parseDest(c.export); err != nil {
			return err
		}
		if c.partMB < 1 || c.partMB > 4096 {
			return cli.Usagef("--part-mb must be from 1 to 4096, got %d", c.partMB)
		}
	}
	st, err := c.app.openStore(c.g)
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error {
		// Fail before touching anything when the bucket is unusable.
		if err := st.Check(ctx); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if _, err := c.app.zipAll(ctx, c.g); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		_, fresh, err := c.app.uploadFiles(ctx, c.g, st, true)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if c.export != "" {
			if err := c.app.exportFiles(ctx, c.g, fresh, dest, int64(c.partMB)<<20); err != nil {
				return fmt.Errorf("archive: %w", err)
			}
		}
		return c.app.pruneArchived(ctx, c.g, st, c.retainDays)
	})
}

// pruneArchived removes, from date folders older than retainDays, the log
// files whose objects are confirmed in the bucket, and then the folders that
// are left empty.
func (a *app) pruneArchived(ctx context.Context, g *globals, st store, retainDays int) error {
	host, err := a.host()
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	dirs, err := oldDateDirs(g.logPath, a.now(), retainDays)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	kept := 0
	for _, d := range dirs {
		entries, err := os.ReadDir(d.path)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(d.path, e.Name())
			lf, perr := ox.ParseLogFileName(e.Name())
			if perr != nil || !e.Type().IsRegular() || lf.Compression == "" {
				a.warnf("archive: keeping %s: not a compressed log file, so never uploaded", p)
				kept++
				continue
			}
			key := objectKey(lf, host)
			ok, err := a.confirmed(ctx, st, key, p)
			if err != nil {
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("archive: %w", err)
				}
				a.warnf("archive: keeping %s: %v", p, err)
				kept++
				continue
			}
			if !ok {
				a.warnf("archive: keeping %s: %s in the bucket differs (size or checksum)", p, key)
				kept++
				continue
			}
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("archive: %w", err)
			}
			fmt.Fprintf(a.stdout, "removed %s (in the bucket as %s)\n", p, key)
		}
		if err := os.Remove(d.path); err == nil {
			fmt.Fprintf(a.stdout, "removed %s\n", d.path)
		}
	}
	if kept > 0 {
		return fmt.Errorf("archive: kept %d old file(s) that are not safely in the bucket (see above)", kept)
	}
	return nil
}

// confirmed reports whether key holds exactly the contents of the local file.
func (a *app) confirmed(ctx context.Context, st store, key, file string) (bool, error) {
	info, err := st.Head(ctx, key)
	if errors.Is(err, errNotFound) {
		return false, fmt.Errorf("%s is not in the bucket", key)
	}
	if err != nil {
		return false, err
	}
	return matchesFile(st, info, file)
}

const verifyUsage = `usage: oxstore verify [options]

Compares every finished local log file with its object in the bucket (size and
checksum) and lists what differs: "missing", "size" or "checksum", with the key.
Exits with status 1 when anything differs.

Options:
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    bucket (default $BLUEOX_BUCKET)
      --lock-file FILE exclusive lock
  -v                   also list the files that match
`

type verifyCmd struct {
	app *app
	g   *globals
}

func (c *verifyCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	c.g.register(fs)
	if err := c.app.parseFlags(fs, args, verifyUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("verify takes no arguments, got %q", fs.Args())
	}
	st, err := c.app.openStore(c.g)
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error {
		if err := st.Check(ctx); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		host, err := c.app.host()
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		files, err := scan(c.g.logPath, c.app.warnf)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		active := activeFiles(files, c.app.now())
		differ := 0
		start := time.Now()
		for _, f := range files {
			if why, ok := active[f.Path]; ok {
				c.app.logf(c.g, "verify: skipping %s: %s", f.Path, why)
				continue
			}
			key := objectKey(f.LogFile, host)
			info, err := st.Head(ctx, key)
			status := "ok"
			switch {
			case errors.Is(err, errNotFound):
				status = "missing"
			case err != nil:
				return fmt.Errorf("verify %s: %w", key, err)
			case info.Size != f.Size:
				status = "size"
			default:
				ok, err := matchesFile(st, info, f.Path)
				if err != nil {
					return fmt.Errorf("verify %s: %w", key, err)
				}
				if !ok {
					status = "checksum"
				}
			}
			if status != "ok" {
				differ++
			}
			if status != "ok" || c.g.verbose {
				fmt.Fprintf(c.app.stdout, "%-8s %s %s\n", status, f.Path, key)
			}
		}
		c.app.logf(c.g, "verify: %d files checked in %s, %d skipped", len(files)-len(active), time.Since(start).Round(time.Millisecond), len(active))
		if differ > 0 {
			return fmt.Errorf("verify: %d file(s) differ from the bucket", differ)
		}
		return nil
	})
}
