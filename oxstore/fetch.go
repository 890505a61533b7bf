package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
)

// timeRange is an inclusive [start, end] span, UTC.
type timeRange struct{ start, end time.Time }

// parseRange reads --start and --end: "YYYYMMDD" or "YYYYMMDD HH:MM", UTC.
// start defaults to today 00:00; end to start plus 23:59:59. An end given as a
// bare date means the end of that day.
func parseRange(start, end string, now time.Time) (timeRange, error) {
	var r timeRange
	if start == "" {
		r.start = now.UTC().Truncate(24 * time.Hour)
	} else {
		t, _, err := parseWhen(start)
		if err != nil {
			return r, cli.Usagef("--start: %v", err)
		}
		r.start = t
	}
	if end == "" {
		r.end = r.start.Add(24*time.Hour - time.Second)
	} else {
		t, dateOnly, err := parseWhen(end)
		if err != nil {
			return r, cli.Usagef("--end: %v", err)
		}
		if dateOnly {
			t = t.Add(24*time.Hour - time.Second)
		}
		r.end = t
	}
	if r.end.Before(r.start) {
		return r, cli.Usagef("--end %s is before --start %s", r.end.Format("20060102 15:04"), r.start.Format("20060102 15:04"))
	}
	return r, nil
}

func parseWhen(s string) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("20060102", s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse("20060102 15:04", s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("bad date %q: want YYYYMMDD or \"YYYYMMDD HH:MM\" (UTC)", s)
}

// numDays is how many UTC days the range touches.
func (r timeRange) numDays() int64 {
	first := r.start.Truncate(24 * time.Hour)
	return int64(r.end.Sub(first)/(24*time.Hour)) + 1
}

// days returns the UTC days the range touches.
func (r timeRange) days() []time.Time {
	var out []time.Time
	for d := r.start.Truncate(24 * time.Hour); !d.After(r.end); d = d.Add(24 * time.Hour) {
		out = append(out, d)
	}
	return out
}

// source is a log file to read, local or in the bucket.
type source struct {
	ox.LogFile
	name string // base name
	size int64
	open func(ctx context.Context) (io.ReadCloser, error)
}

// selectRange keeps the sources of type typ that can hold events in r, one per
// (date, host) (the plain file when a compressed copy exists too), in time
// order.
func selectRange(all []source, typ string, r timeRange) []source {
	var mine []source
	for _, s := range all {
		if s.Type == typ {
			mine = append(mine, s)
		}
	}
	sort.Slice(mine, func(i, j int) bool {
		a, b := mine[i], mine[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Hourly != b.Hourly {
			return !a.Hourly
		}
		return a.Compression < b.Compression // plain file first
	})
	var out []source
	for i, s := range mine {
		if i > 0 {
			p := mine[i-1]
			if p.Start.Equal(s.Start) && p.Host == s.Host && p.Hourly == s.Hourly {
				continue // a second copy (compressed) of the same file
			}
		}
		var next time.Time
		for _, n := range mine[i+1:] {
			if n.Host == s.Host && n.Hourly && n.Start.After(s.Start) {
				next = n.Start
				break
			}
		}
		end := s.Start.Add(period(s.LogFile, next))
		if !s.Start.After(r.end) && end.After(r.start) {
			out = append(out, s)
		}
	}
	return out
}

func localSources(g *globals, warn func(string, ...any)) ([]source, error) {
	files, err := scan(g.logPath, warn)
	if err != nil {
		return nil, err
	}
	out := make([]source, 0, len(files))
	for _, f := range files {
		p := f.Path
		out = append(out, source{LogFile: f.LogFile, name: f.Name, size: f.Size,
			open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }})
	}
	return out, nil
}

// bucketSources lists the bucket's files of type typ (every type when typ is
// "") in r's days: one listing per day folder, or a single listing of the
// whole bucket for long ranges. Keys whose names are not log file names are
// reported through skip.
func bucketSources(ctx context.Context, st store, r timeRange, typ string, skip func(string, ...any)) ([]source, error) {
	var prefixes []string
	if r.numDays() <= 31 {
		for _, day := range r.days() {
			prefixes = append(prefixes, ox.LogDir(day)+"/")
		}
	} else {
		prefixes = []string{""}
	}
	var out []source
	for _, prefix := range prefixes {
		for o, err := range st.List(ctx, prefix) {
			if err != nil {
				return nil, err
			}
			name := path.Base(o.Key)
			if typ != "" && !strings.HasPrefix(name, typ+"-") { // "": every type
				continue
			}
			lf, err := ox.ParseLogFileName(name)
			if err != nil {
				skip("skipping %s: not a log file name", o.Key)
				continue
			}
			key := o.Key
			out = append(out, source{LogFile: lf, name: name, size: o.Size,
				open: func(ctx context.Context) (io.ReadCloser, error) { return st.Get(ctx, key) }})
		}
	}
	return out, nil
}

// listBucket opens and checks the bucket and lists its files of type typ
// (every type when typ is "") in r's days, for command what (cat, export):
// the bucket side of their shared selection.
func (a *app) listBucket(ctx context.Context, g *globals, r timeRange, typ, what string) ([]source, error) {
	st, err := a.openStore(g)
	if err != nil {
		return nil, err
	}
	if err := st.Check(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	all, err := bucketSources(ctx, st, r, typ, func(format string, args ...any) { a.logf(g, what+": "+format, args...) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return all, nil
}

const catUsage = `usage: oxstore cat TYPE [--local] [--start WHEN] [--end WHEN] [options]

Writes the raw (decompressed) log data of one type to stdout in time order,
streaming: from the bucket, or from the log path with --local. Files covering
the same time (several hosts) are merged event by event.
Reads .gz (ours) and .bz2 (the original's) as well as plain files.

WHEN is YYYYMMDD or "YYYYMMDD HH:MM", UTC. --start defaults to today 00:00,
--end to start plus 23:59:59 (a bare date as --end means the end of that day).
Daily files count for any time in their day.

Options:
      --local          read the log path instead of the bucket
      --start WHEN     start of the range
      --end WHEN       end of the range
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    bucket (default $BLUEOX_BUCKET)
  -v                   list the files read on stderr
`

type catCmd struct {
	app        *app
	g          *globals
	local      bool
	start, end string
}

func (c *catCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	c.g.register(fs)
	fs.BoolVar(&c.local, "local", false, "read the log path")
	fs.StringVar(&c.start, "start", "", "start")
	fs.StringVar(&c.end, "end", "", "end")
	typ, err := parseTypeCommand(c.app, fs, args, catUsage)
	if err != nil {
		return err
	}
	r, err := parseRange(c.start, c.end, c.app.now())
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error { return c.run(ctx, typ, r) })
}

func (c *catCmd) run(ctx context.Context, typ string, r timeRange) (err error) {
	var all []source
	if c.local {
		if all, err = localSources(c.g, c.app.warnf); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
	} else {
		if c.g.bucket == "" {
			// Both ways out: the bucket, or the files on this host.
			return cli.Usagef("cat: no bucket: give --bucket or set BLUEOX_BUCKET, or add --local to read the files under --log-path (%s)", c.g.logPath)
		}
		if all, err = c.app.listBucket(ctx, c.g, r, typ, "cat"); err != nil {
			return err
		}
	}
	logf := func(format string, args ...any) { c.app.logf(c.g, format, args...) }
	sel := selectRange(all, typ, r)
	reportCopies(all, sel, typ, r, "cat", logf)
	return writeInTimeOrder(ctx, sel, c.app.stdout, c.app.warnf, logf)
}

// parseTypeCommand parses "TYPE [options]" or "[options] TYPE".
func parseTypeCommand(a *app, fs *flag.FlagSet, args []string, usage string) (string, error) {
	typ, err := parseOptionalType(a, fs, args, usage)
	if err == nil && typ == "" {
		return "", cli.Usagef("%s needs a TYPE (see oxstore %s -h)", fs.Name(), fs.Name())
	}
	return typ, err
}

// parseOptionalType parses "[TYPE] [options]" or "[options] [TYPE]"; a
// missing TYPE is "".
func parseOptionalType(a *app, fs *flag.FlagSet, args []string, usage string) (string, error) {
	typ, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		typ, rest = args[0], args[1:]
	}
	if err := a.parseFlags(fs, rest, usage); err != nil {
		return "", err
	}
	if typ == "" && fs.NArg() > 0 {
		typ = fs.Arg(0)
		if err := a.parseFlags(fs, fs.Args()[1:], usage); err != nil {
			return "", err
		}
	}
	if fs.NArg() > 0 {
		return "", cli.Usagef("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	if typ == "" {
		return "", nil
	}
	if err := ox.ValidTypeName(typ); err != nil {
		return "", cli.Usagef("%v", err)
	}
	return typ, nil
}

func catOne(ctx context.Context, s source, w io.Writer) error {
	rc, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := ox.NewLogReader(rc)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return err
}

const downloadUsage = `usage: oxstore download TYPE [--start WHEN] [--end WHEN] [options]

Fetches the bucket's files of one type for a time range into the current
directory, as they are stored (compressed), skipping files that already exist.
WHEN is as for 'oxstore cat'.

Options:
      --start WHEN     start of the range
      --end WHEN       end of the range
  -b, --bucket NAME    bucket (default $BLUEOX_BUCKET)
  -v                   progress on stderr
`

type downloadCmd struct {
	app        *app
	g          *globals
	start, end string
}

func (c *downloadCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	c.g.register(fs)
	fs.StringVar(&c.start, "start", "", "start")
	fs.StringVar(&c.end, "end", "", "end")
	typ, err := parseTypeCommand(c.app, fs, args, downloadUsage)
	if err != nil {
		return err
	}
	r, err := parseRange(c.start, c.end, c.app.now())
	if err != nil {
		return err
	}
	st, err := c.app.openStore(c.g)
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error { return c.run(ctx, st, typ, r) })
}

func (c *downloadCmd) run(ctx context.Context, st store, typ string, r timeRange) error {
	if err := st.Check(ctx); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	all, err := bucketSources(ctx, st, r, typ, func(format string, args ...any) { c.app.logf(c.g, "download: "+format, args...) })
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	// Every stored copy of a selected file is fetched, compressed or not:
	// download mirrors the bucket.
	type id struct {
		start  time.Time
		host   string
		hourly bool
	}
	want := map[id]bool{}
	for _, s := range selectRange(all, typ, r) {
		want[id{s.Start, s.Host, s.Hourly}] = true
	}
	var todo []source
	var total int64
	for _, s := range all {
		if s.Type == typ && want[id{s.Start, s.Host, s.Hourly}] {
			todo = append(todo, s)
			total += s.size
		}
	}
	p := c.app.newProgress(c.g, "download", len(todo), total)
	for _, s := range todo {
		dst := filepath.Join(c.app.dir, s.name)
		if _, err := os.Lstat(dst); err == nil {
			c.app.logf(c.g, "download: %s exists, skipped", dst)
			p.fileDone()
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("download: %w", err)
		}
		if err := downloadOne(ctx, s, dst, p.add); err != nil {
			return fmt.Errorf("download %s: %w", s.name, err)
		}
		p.fileDone()
		c.app.logf(c.g, "download: %s", dst)
	}
	p.done()
	return nil
}

type countingWriter struct {
	w   io.Writer
	add func(int64)
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.add(int64(n))
	return n, err
}

func downloadOne(ctx context.Context, s source, dst string, add func(int64)) (err error) {
	rc, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(countingWriter{tmp, add}, rc)
	if err != nil {
		return err
	}
	if n != s.size {
		return fmt.Errorf("got %d bytes, the bucket lists %d", n, s.size)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link, not rename: a file that appeared meanwhile is never overwritten.
	if err := os.Link(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	return os.Remove(tmp.Name())
}
