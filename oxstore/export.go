package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
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
	"github.com/blueox/ox/internal/evdoc"
)

const exportUsage = `usage: oxstore export [TYPE] --to DEST [--local] [--start WHEN] [--end WHEN] [options]
       oxstore export --ddl ENGINE --to DEST

Writes the events of the selected log files as gzip-compressed JSON lines, one
row per event, under a Hive-partitioned layout that Athena, Trino, Spark,
ClickHouse and DuckDB query in place:

  DEST/type=<type>/date=YYYY-MM-DD/hour=HH/<host>-<type>-<file date>-<part>.json.gz

DEST is a local folder or s3://bucket/prefix. The files are selected as for
'oxstore cat' (from the bucket, or the log path with --local; a missing TYPE
means every type), and every event of a selected file is written, in the
partition of its end time. Names depend only on the input, so exporting the
same files again replaces the same objects (and removes parts a bigger earlier
export left), never duplicating rows. Each row is the document oxstash sends
(see docs/oxstore.md); a key keeps one JSON type across the rows of an event
type. Files still being written (--local) are skipped and reported.

With --ddl, prints the statement (athena, trino, spark, clickhouse) or query
(duckdb) that reads DEST with the engine, and exports nothing.

Options:
      --to DEST        local folder or s3://bucket/prefix (required)
      --local          read the log path instead of the bucket
      --start WHEN     start of the range (as for cat)
      --end WHEN       end of the range
      --part-mb N      start a new part after N MiB of JSON (default 128)
      --ddl ENGINE     print the table for athena|trino|spark|clickhouse|duckdb
  -p, --log-path DIR   log folder (default $BLUEOX_LOG_PATH, else /var/log/blueox)
  -b, --bucket NAME    bucket to read (default $BLUEOX_BUCKET)
  -v                   progress, each file read and each file skipped, on stderr
`

type exportCmd struct {
	app        *app
	g          *globals
	local      bool
	start, end string
	to         string
	partMB     int
	ddl        string
}

func (c *exportCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	c.g.register(fs)
	fs.BoolVar(&c.local, "local", false, "read the log path")
	fs.StringVar(&c.start, "start", "", "start")
	fs.StringVar(&c.end, "end", "", "end")
	fs.StringVar(&c.to, "to", "", "destination")
	fs.IntVar(&c.partMB, "part-mb", 128, "part size in MiB")
	fs.StringVar(&c.ddl, "ddl", "", "engine")
	typ, err := parseOptionalType(c.app, fs, args, exportUsage)
	if err != nil {
		return err
	}
	if c.to == "" {
		return cli.Usagef("export needs --to DEST, a folder or s3://bucket/prefix (see oxstore export -h)")
	}
	dest, err := parseDest(c.to)
	if err != nil {
		return err
	}
	if c.ddl != "" {
		s, err := ddl(c.ddl, dest)
		if err != nil {
			return err
		}
		fmt.Fprint(c.app.stdout, s)
		return nil
	}
	if c.partMB < 1 || c.partMB > 4096 {
		return cli.Usagef("--part-mb must be from 1 to 4096, got %d", c.partMB)
	}
	if typ != "" {
		if err := partitionValue(typ); err != nil {
			return cli.Usagef("export: %v", err)
		}
	}
	r, err := parseRange(c.start, c.end, c.app.now())
	if err != nil {
		return err
	}
	return c.app.withLock(c.g, func() error { return c.run(ctx, typ, r, dest) })
}

func (c *exportCmd) run(ctx context.Context, typ string, r timeRange, dest destination) error {
	logf := func(format string, args ...any) { c.app.logf(c.g, format, args...) }
	var srcs []source
	if c.local {
		files, err := scan(c.g.logPath, c.app.warnf)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		active := activeFiles(files, c.app.now())
		host, err := c.app.host()
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		var all []source
		for _, f := range files {
			if typ != "" && f.Type != typ {
				continue
			}
			if why, ok := active[f.Path]; ok {
				if selectRange([]source{{LogFile: f.LogFile}}, f.Type, r) != nil {
					logf("export: skipping %s: %s", f.Path, why)
				}
				continue
			}
			lf := f.LogFile
			if lf.Host == "" {
				lf.Host = host
			}
			p := f.Path
			all = append(all, source{LogFile: lf, name: f.Path, size: f.Size,
				open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }})
		}
		srcs = selectAllTypes(all, typ, r, logf)
	} else {
		all, err := c.app.listBucket(ctx, c.g, r, typ, "export")
		if err != nil {
			return err
		}
		srcs = selectAllTypes(all, typ, r, logf)
	}
	snk, err := c.app.openSink(c.g, dest)
	if err != nil {
		return err
	}
	x := newExporter(c.app, c.g, snk, int64(c.partMB)<<20)
	return x.exportAll(ctx, srcs)
}

// selectAllTypes selects as cat does, for typ or (typ empty) every type, and
// reports the files it leaves out: copies of a selected file, and types the
// layout cannot hold.
func selectAllTypes(all []source, typ string, r timeRange, logf func(string, ...any)) []source {
	types := map[string]bool{}
	for _, s := range all {
		if typ == "" || s.Type == typ {
			types[s.Type] = true
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	var out []source
	for _, t := range names {
		sel := selectRange(all, t, r)
		if err := partitionValue(t); err != nil {
			for _, s := range sel {
				logf("export: skipping %s: %v", s.name, err)
			}
			continue
		}
		reportCopies(all, sel, t, r, "export", logf)
		out = append(out, sel...)
	}
	return out
}

// reportCopies says which files of type typ in r selectRange left out, as
// copies (compressed or not) of one it kept.
func reportCopies(all, sel []source, typ string, r timeRange, what string, logf func(string, ...any)) {
	kept := map[string]string{}
	id := func(s source) string { return fmt.Sprint(s.Start.Unix(), s.Host, s.Hourly) }
	for _, s := range sel {
		kept[id(s)] = s.name
	}
	for _, s := range all {
		if s.Type != typ {
			continue
		}
		if k, ok := kept[id(s)]; ok && k != s.name {
			logf("%s: skipping %s: a copy of %s, which is read instead", what, s.name, k)
		}
	}
}

// partitionValue checks that a type can be a partition value: engines split
// keys on '/' and '=', Hive escapes ':' and others, and some reject spaces,
// so only letters, digits, '.', '_' and '-' are allowed.
func partitionValue(typ string) error {
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("type %q cannot be a partition value: only letters, digits, '.', '_' and '-' are allowed", typ)
		}
	}
	if typ == "" {
		return fmt.Errorf("empty type cannot be a partition value")
	}
	return nil
}

// safeName keeps letters, digits, '.', '_' and '-' of a host name for an
// object name, and writes any other byte as '_'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// destination is where export writes: a local folder, or a bucket and a key
// prefix (without a trailing '/').
type destination struct {
	dir            string
	bucket, prefix string
}

func (d destination) s3() bool { return d.bucket != "" }

// location is the destination as engines name it: s3://bucket/prefix/ or the
// absolute folder with a trailing '/'.
func (d destination) location() string {
	if d.s3() {
		if d.prefix == "" {
			return "s3://" + d.bucket + "/"
		}
		return "s3://" + d.bucket + "/" + d.prefix + "/"
	}
	return strings.TrimSuffix(filepath.ToSlash(d.dir), "/") + "/"
}

func parseDest(s string) (destination, error) {
	if rest, ok := strings.CutPrefix(s, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		prefix = strings.Trim(prefix, "/")
		if bucket == "" {
			return destination{}, cli.Usagef("--to %q: no bucket", s)
		}
		for _, seg := range strings.Split(prefix, "/") {
			if seg == "." || seg == ".." || (seg == "" && prefix != "") {
				return destination{}, cli.Usagef("--to %q: bad prefix", s)
			}
		}
		return destination{bucket: bucket, prefix: prefix}, nil
	}
	if strings.Contains(s, "://") {
		return destination{}, cli.Usagef("--to %q: want a folder or s3://bucket/prefix", s)
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return destination{}, fmt.Errorf("--to: %w", err)
	}
	return destination{dir: abs}, nil
}

// sink stores the objects of an export.
type sink interface {
	// create starts the object at key (relative to the destination); the
	// returned file's commit publishes it.
	create(key string) (*os.File, func(ctx context.Context, f *os.File) error, error)
	// list returns the names of the objects in the partition folder dir
	// whose names start with prefix.
	list(ctx context.Context, dir, prefix string) ([]string, error)
	remove(ctx context.Context, key string) error
	// get returns a small object's contents, or nil when it does not exist.
	get(ctx context.Context, key string) ([]byte, error)
	// put stores a small object whole.
	put(ctx context.Context, key string, data []byte) error
}

func (a *app) openSink(g *globals, d destination) (sink, error) {
	if !d.s3() {
		return localSink{root: d.dir}, nil
	}
	st, err := a.openStore(&globals{bucket: d.bucket})
	if err != nil {
		return nil, err
	}
	return &bucketSink{st: st, prefix: d.prefix}, nil
}

// localSink writes under a folder: a temporary name in the final folder,
// synced and then renamed, so a reader never sees half a part.
type localSink struct{ root string }

func (l localSink) create(key string) (*os.File, func(context.Context, *os.File) error, error) {
	final := filepath.Join(l.root, filepath.FromSlash(key))
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return nil, nil, err
	}
	commit := func(_ context.Context, f *os.File) error {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), final); err != nil {
			return err
		}
		// The rename itself lasts once the folder is synced.
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}
	return f, commit, nil
}

func (l localSink) list(_ context.Context, dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (l localSink) remove(_ context.Context, key string) error {
	return os.Remove(filepath.Join(l.root, filepath.FromSlash(key)))
}

func (l localSink) get(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(l.root, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (l localSink) put(ctx context.Context, key string, data []byte) error {
	f, commit, err := l.create(key)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := commit(ctx, f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return nil
}

// bucketSink writes each part to a temporary file, then uploads it (in parts
// when large) and removes the file: memory stays flat whatever the part size.
type bucketSink struct {
	st     store
	prefix string
}

func (b *bucketSink) key(k string) string {
	if b.prefix == "" {
		return k
	}
	return b.prefix + "/" + k
}

func (b *bucketSink) create(key string) (*os.File, func(context.Context, *os.File) error, error) {
	f, err := os.CreateTemp("", ".oxstore-export-*.json.gz")
	if err != nil {
		return nil, nil, err
	}
	commit := func(ctx context.Context, f *os.File) error {
		defer os.Remove(f.Name())
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return b.st.Put(ctx, b.key(key), f, fi.Size(), nil)
	}
	return f, commit, nil
}

func (b *bucketSink) list(ctx context.Context, dir, prefix string) ([]string, error) {
	var out []string
	for o, err := range b.st.List(ctx, b.key(dir)+"/"+prefix) {
		if err != nil {
			return nil, err
		}
		out = append(out, path.Base(o.Key))
	}
	return out, nil
}

func (b *bucketSink) remove(ctx context.Context, key string) error {
	d, ok := b.st.(interface {
		Delete(ctx context.Context, key string) error
	})
	if !ok {
		return errors.New("this store cannot delete objects")
	}
	return d.Delete(ctx, b.key(key))
}

func (b *bucketSink) get(ctx context.Context, key string) ([]byte, error) {
	if _, err := b.st.Head(ctx, b.key(key)); errors.Is(err, errNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	rc, err := b.st.Get(ctx, b.key(key))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxShapeFile))
}

func (b *bucketSink) put(ctx context.Context, key string, data []byte) error {
	return b.st.Put(ctx, b.key(key), bytes.NewReader(data), int64(len(data)), nil)
}

// maxShapeFile bounds what is read of a stored shape.
const maxShapeFile = 16 << 20

// Delete removes an object.
func (s *s3Store) Delete(ctx context.Context, key string) error {
	return s.c.DeleteObject(ctx, s.bucket, key)
}

// maxOpenParts bounds the partitions one source file writes at once: events
// are in time order, so mostly one is open; an event for an hour whose part
// was closed starts a new part there.
const maxOpenParts = 4

// exporter turns log files into parts.
type exporter struct {
	a         *app
	g         *globals
	snk       sink
	partBytes int64

	b        evdoc.Builder
	shapes   map[string]*shaper
	free     []*gzip.Writer
	freeBufs [][]byte

	events, logBytes, bad int64
	objects               int
	fitsLeft              int // memory left for layouts, shared by the shapes
}

func newExporter(a *app, g *globals, snk sink, partBytes int64) *exporter {
	return &exporter{a: a, g: g, snk: snk, partBytes: partBytes, shapes: map[string]*shaper{}, fitsLeft: maxFitsBytes}
}

// part is one object being written. Its rows are compressed by a goroutine
// of its own, so that building rows and compressing them overlap when there
// is more than one core; on one core they take turns.
type part struct {
	key    string // relative key
	hour   time.Time
	f      *os.File
	commit func(context.Context, *os.File) error
	n      int64 // uncompressed bytes
	used   int64 // for choosing the least recently used part

	pending  []byte      // rows not yet handed to the compressor
	work     chan []byte // rows to compress
	free     chan []byte // buffers the compressor is done with
	done     chan error  // the compressor's result, once work is closed
	finished bool
	zw       *gzip.Writer
	bw       *bufio.Writer
}

// pendingBytes is how many bytes of rows a part gathers before handing them
// to its compressor; partBuffers is how many such buffers a part owns.
const (
	pendingBytes = 64 << 10
	partBuffers  = 3
)

// startPart starts writing the object at key into f.
func (x *exporter) startPart(key string, hour time.Time, f *os.File, commit func(context.Context, *os.File) error) *part {
	pt := &part{key: key, hour: hour, f: f, commit: commit,
		work: make(chan []byte, partBuffers), free: make(chan []byte, partBuffers), done: make(chan error, 1)}
	pt.bw = bufio.NewWriterSize(f, 256<<10)
	if k := len(x.free); k > 0 {
		pt.zw = x.free[k-1]
		x.free = x.free[:k-1]
		pt.zw.Reset(pt.bw)
	} else {
		pt.zw, _ = gzip.NewWriterLevel(pt.bw, gzip.BestSpeed)
	}
	for i := range partBuffers {
		var b []byte
		if k := len(x.freeBufs); k > 0 {
			b = x.freeBufs[k-1]
			x.freeBufs = x.freeBufs[:k-1]
		} else {
			b = make([]byte, 0, pendingBytes+64<<10)
		}
		if i == 0 {
			pt.pending = b
		} else {
			pt.free <- b
		}
	}
	go pt.compress()
	return pt
}

// compress writes the rows handed to it through gzip to the file, and
// reports the first error once the rows end.
func (p *part) compress() {
	var err error
	for b := range p.work {
		if err == nil {
			_, err = p.zw.Write(b)
		}
		p.free <- b[:0]
	}
	if err == nil {
		err = p.zw.Close()
	}
	if err == nil {
		err = p.bw.Flush()
	}
	p.done <- err
}

// flush hands the pending rows to the compressor.
func (p *part) flush() {
	if len(p.pending) == 0 {
		return
	}
	p.work <- p.pending
	p.pending = <-p.free
}

// finish waits until the part's rows are compressed and in its file, and
// takes back its buffers and gzip writer.
func (x *exporter) finish(p *part) error {
	if p.finished {
		return nil
	}
	p.finished = true
	p.flush()
	close(p.work)
	err := <-p.done
	x.freeBufs = append(x.freeBufs, p.pending[:0])
	for range partBuffers - 1 {
		x.freeBufs = append(x.freeBufs, <-p.free)
	}
	x.free = append(x.free, p.zw)
	return err
}

// exportAll exports srcs in order and prints a summary with -v.
func (x *exporter) exportAll(ctx context.Context, srcs []source) error {
	var total int64
	for _, s := range srcs {
		total += s.size
	}
	p := x.a.newProgress(x.g, "export", len(srcs), total)
	start := time.Now()
	for _, s := range srcs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := x.exportSource(ctx, s, p); err != nil {
			return fmt.Errorf("export %s: %w", s.name, err)
		}
		p.fileDone()
	}
	p.done()
	var types []string
	for t := range x.shapes {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		data, err := x.shapes[t].marshal()
		if err == nil {
			err = x.snk.put(ctx, shapeKey(t), data)
		}
		if err != nil {
			return fmt.Errorf("export: keep the shape of %s: %w", t, err)
		}
	}
	for _, t := range types {
		for _, line := range x.shapes[t].report(t) {
			x.a.warnf("export: %s", line)
		}
	}
	if x.bad > 0 {
		x.a.warnf("export: %d event(s) that are not maps were left out", x.bad)
	}
	secs := time.Since(start).Seconds()
	x.a.logf(x.g, "export: %d files, %d events, %s of log data, %d objects in %.1fs (%.0f events/s, %.1f MB/s)",
		len(srcs), x.events, human(x.logBytes), x.objects, secs, float64(x.events)/secs, float64(x.logBytes)/secs/1e6)
	return nil
}

// shaper returns the shape of typ, read from the destination the first time.
func (x *exporter) shaper(ctx context.Context, typ string) (*shaper, error) {
	if sh := x.shapes[typ]; sh != nil {
		return sh, nil
	}
	sh := newShaper()
	sh.fitsLeft = &x.fitsLeft
	data, err := x.snk.get(ctx, shapeKey(typ))
	if err != nil {
		return nil, fmt.Errorf("read the shape of %s: %w", typ, err)
	}
	if data != nil {
		if err := sh.load(data); err != nil {
			return nil, fmt.Errorf("%s: %w (remove it to start the shape of %s afresh)", shapeKey(typ), err, typ)
		}
	}
	x.shapes[typ] = sh
	return sh, nil
}

// shapeKey is where the kinds of typ are kept.
func shapeKey(typ string) string { return shapesDir + "/" + typ + ".json" }

// exportSource writes one log file's events to its parts, then removes the
// parts an earlier export of the same file left beyond the ones written now.
func (x *exporter) exportSource(ctx context.Context, s source, p *progress) (err error) {
	rc, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	lr, err := ox.NewLogReader(countingReader{rc, p.add})
	if err != nil {
		return err
	}
	r := &eventReader{r: lr}
	sh, err := x.shaper(ctx, s.Type)
	if err != nil {
		return err
	}
	stem := safeName(s.Host) + "-" + s.Type + "-" + fileDate(s.LogFile) + "-"
	open := map[time.Time]*part{}
	next := map[time.Time]int{} // next part number per hour
	written := map[string]bool{}
	defer func() {
		for _, pt := range open {
			x.finish(pt)
			pt.f.Close()
			os.Remove(pt.f.Name())
		}
	}()
	var events, tick int64
	closePart := func(pt *part) error {
		delete(open, pt.hour)
		err := x.finish(pt)
		if err == nil {
			err = pt.commit(ctx, pt.f)
		}
		if err != nil {
			pt.f.Close()
			os.Remove(pt.f.Name())
			return fmt.Errorf("write %s: %w", pt.key, err)
		}
		written[pt.key] = true
		x.objects++
		x.a.logf(x.g, "export: wrote %s (%s of JSON)", pt.key, human(pt.n))
		return nil
	}
	var cur *part // the part of the last event, most often the next one's
	for {
		d, refused, err := r.next(&x.b)
		if err != nil {
			if err == io.EOF {
				break
			}
			if corrupt := (*ox.CorruptError)(nil); errors.As(err, &corrupt) {
				x.a.warnf("export: %s: %v; the rest of this file is skipped", s.name, err)
				break
			}
			return err
		}
		if refused {
			x.bad++
			continue
		}
		t := d.End
		if t.IsZero() {
			t = d.Start
		}
		if u := t.Unix(); t.IsZero() || u < minPartitionUnix || u >= maxPartitionUnix {
			t = s.Start
		}
		hour := t.UTC().Truncate(time.Hour)
		pt := cur
		if pt == nil || pt.finished || pt.hour != hour {
			pt = open[hour]
		}
		if pt == nil {
			if len(open) >= maxOpenParts {
				var lru *part
				for _, o := range open {
					if lru == nil || o.used < lru.used {
						lru = o
					}
				}
				if err := closePart(lru); err != nil {
					return err
				}
			}
			n := next[hour]
			next[hour] = n + 1
			key := fmt.Sprintf("type=%s/date=%s/hour=%02d/%s%04d.json.gz", s.Type, hour.Format("2006-01-02"), hour.Hour(), stem, n)
			f, commit, err := x.snk.create(key)
			if err != nil {
				return fmt.Errorf("write %s: %w", key, err)
			}
			pt = x.startPart(key, hour, f, commit)
			open[hour] = pt
		}
		cur = pt
		// The document is written straight into the part's rows, and
		// shaped there.
		n0 := len(pt.pending)
		var layout []byte
		pt.pending, layout = x.b.AppendLayout(pt.pending)
		pt.pending = sh.applyAt(pt.pending, n0, layout)
		pt.pending = append(pt.pending, '\n')
		pt.n += int64(len(pt.pending) - n0)
		if len(pt.pending) >= pendingBytes {
			pt.flush()
		}
		events++
		pt.used = events
		if pt.n >= x.partBytes {
			if err := closePart(pt); err != nil {
				return err
			}
		}
		if tick++; tick&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	hours := make([]time.Time, 0, len(open))
	for h := range open {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i].Before(hours[j]) })
	for _, h := range hours {
		if err := closePart(open[h]); err != nil {
			return err
		}
	}
	x.events += events
	x.logBytes += r.offset
	x.a.logf(x.g, "export: %s: %d events", s.name, events)
	// Parts of an earlier export of this file that this one did not write
	// again (it used a bigger --part-mb, or the file has since lost events)
	// would duplicate rows: remove them.
	dirs := map[string]bool{}
	for h := range next {
		dirs[fmt.Sprintf("type=%s/date=%s/hour=%02d", s.Type, h.Format("2006-01-02"), h.Hour())] = true
	}
	for dir := range dirs {
		names, err := x.snk.list(ctx, dir, stem)
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, name := range names {
			key := dir + "/" + name
			if !strings.HasSuffix(name, ".json.gz") || written[key] {
				continue
			}
			if err := x.snk.remove(ctx, key); err != nil {
				return fmt.Errorf("remove stale %s: %w", key, err)
			}
			x.a.logf(x.g, "export: removed %s, left by an earlier export of the same file", key)
		}
	}
	return nil
}

// The Unix times of 1000-01-01 and 10000-01-01 UTC: an event's time
// outside names no partition, and the file's date is used instead.
const (
	minPartitionUnix = -30610224000
	maxPartitionUnix = 253402300800
)

// fileDate is the date part of a log file's name: YYYYMMDD or YYYYMMDDHH.
func fileDate(f ox.LogFile) string {
	if f.Hourly {
		return f.Start.UTC().Format("2006010215")
	}
	return f.Start.UTC().Format("20060102")
}

type countingReader struct {
	r   io.Reader
	add func(int64)
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(int64(n))
	return n, err
}

// exportFiles exports local log files (archive --export). A failure names
// the command that exports the file again.
func (a *app) exportFiles(ctx context.Context, g *globals, files []localFile, dest destination, partBytes int64) error {
	if len(files) == 0 {
		return nil
	}
	host, err := a.host()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	snk, err := a.openSink(g, dest)
	if err != nil {
		return err
	}
	var srcs []source
	first, last := files[0].Start, files[0].Start
	for _, f := range files {
		lf := f.LogFile
		if lf.Host == "" {
			lf.Host = host
		}
		p := f.Path
		srcs = append(srcs, source{LogFile: lf, name: f.Path, size: f.Size,
			open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }})
		first, last = minTime(first, f.Start), maxTime(last, f.Start)
	}
	if err := newExporter(a, g, snk, partBytes).exportAll(ctx, srcs); err != nil {
		return fmt.Errorf("%w (run 'oxstore export --local --start %s --end %s --to %s' to export again)",
			err, first.Format("20060102"), last.Format("20060102"), dest.location())
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
