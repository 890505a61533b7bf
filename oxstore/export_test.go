package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/s3sig"
)

// genEvent is one generated event and what the export must make of it.
type genEvent struct {
	typ, id, path string
	status        int64
	start, end    float64
}

func (e genEvent) duration() float64 { return math.Round((e.end-e.start)*1e6) / 1e6 }

// partition is where the event's row belongs: type, date and hour of its end.
func (e genEvent) partition() string {
	t := ox.FloatTime(e.end).UTC()
	return fmt.Sprintf("%s/%s/%02d", e.typ, t.Format("2006-01-02"), t.Hour())
}

var endpoints = []string{"/", "/login", "/api/items", "/api/items/{id}"}

// genLog makes n events of typ ending within the span from first, in time
// order, as a log file's bytes.
func genLog(t testing.TB, rng *rand.Rand, typ string, first time.Time, span time.Duration, n int) ([]byte, []genEvent) {
	t.Helper()
	var data []byte
	var evs []genEvent
	ends := make([]float64, n)
	for i := range ends {
		ends[i] = float64(first.UnixMicro())/1e6 + math.Floor(rng.Float64()*span.Seconds()*1e3)/1e3
	}
	sort.Float64s(ends)
	for i, end := range ends {
		e := genEvent{typ: typ, id: fmt.Sprintf("%s-%s-%06d", typ, first.Format("20060102"), i), path: endpoints[rng.IntN(len(endpoints))],
			status: []int64{200, 200, 200, 404, 500}[rng.IntN(5)], end: end}
		e.start = end - float64(rng.IntN(2_000_000))/1e6
		body := map[string]any{"path": e.path, "response": map[string]any{"status": e.status, "size": int64(rng.IntN(10000))},
			"user": fmt.Sprintf("u%d", rng.IntN(100))}
		b, err := ox.AppendValue(data, map[string]any{"type": typ, "id": e.id, "host": "vm", "pid": int64(4242),
			"start": e.start, "end": e.end, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		data = b
		evs = append(evs, e)
	}
	return data, evs
}

// totals are what queries over the export must find: rows and the sum of
// durations per type/date/hour.
type totals map[string]struct {
	n   int
	sum float64
}

func totalsOf(evs []genEvent) totals {
	out := totals{}
	for _, e := range evs {
		p := out[e.partition()]
		p.n++
		p.sum += e.duration()
		out[e.partition()] = p
	}
	return out
}

func (a totals) equal(t *testing.T, b totals, what string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d partitions, want %d", what, len(b), len(a))
	}
	for k, v := range a {
		w := b[k]
		if v.n != w.n || math.Abs(v.sum-w.sum) > 1e-6*float64(v.n+1) {
			t.Errorf("%s: partition %s: %d rows, durations %.6f; want %d, %.6f", what, k, w.n, w.sum, v.n, v.sum)
		}
	}
}

// exportFixture writes log files for three days and two types into h's log
// path and returns the events the export of 20261122-20261124 must hold
// (today's file, still written, is left out).
func exportFixture(t *testing.T, h *harness) []genEvent {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var want []genEvent
	for _, f := range []struct {
		typ  string
		day  time.Time
		n    int
		keep bool
	}{
		{"request", now.AddDate(0, 0, -2).Truncate(24 * time.Hour), 700, true},
		{"request", now.AddDate(0, 0, -1).Truncate(24 * time.Hour), 900, true},
		{"request.db", now.AddDate(0, 0, -1).Truncate(24 * time.Hour), 300, true},
		{"request", now.Truncate(24 * time.Hour), 50, false},
	} {
		data, evs := genLog(t, rng, f.typ, f.day, 24*time.Hour, f.n)
		h.writeLog(ox.LogFileName(f.typ, f.day, 0), data, now.Add(-time.Minute))
		if f.keep {
			want = append(want, evs...)
		}
	}
	return want
}

// row is what a test reads back of an exported row.
type row struct {
	Timestamp string         `json:"@timestamp"`
	Duration  float64        `json:"duration"`
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Host      string         `json:"host"`
	Body      map[string]any `json:"body"`
}

// readRows reads every row of an exported object and checks its partition.
func readRows(t *testing.T, key string, r io.Reader) []row {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var rows []row
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rw row
		if err := json.Unmarshal(sc.Bytes(), &rw); err != nil {
			t.Fatalf("%s: %v: %s", key, err, sc.Bytes())
		}
		ts, err := time.Parse(time.RFC3339Nano, rw.Timestamp)
		if err != nil {
			t.Fatalf("%s: @timestamp %q", key, rw.Timestamp)
		}
		dir := fmt.Sprintf("type=%s/date=%s/hour=%02d", rw.Type, ts.Format("2006-01-02"), ts.Hour())
		if !strings.HasPrefix(key, dir+"/") {
			t.Fatalf("row %s of %s belongs in %s", rw.ID, key, dir)
		}
		rows = append(rows, rw)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return rows
}

func totalsOfRows(rows []row) totals {
	out := totals{}
	for _, r := range rows {
		ts, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
		k := fmt.Sprintf("%s/%s/%02d", r.Type, ts.Format("2006-01-02"), ts.Hour())
		p := out[k]
		p.n++
		p.sum += r.Duration
		out[k] = p
	}
	return out
}

// readTree reads every exported object under root.
func readTree(t *testing.T, root string) (map[string][]row, []row) {
	t.Helper()
	objects := map[string][]row{}
	var all []row
	for key := range tree(t, root) {
		key = filepath.ToSlash(key)
		if strings.HasPrefix(key, shapesDir+"/") {
			continue
		}
		if !strings.HasSuffix(key, ".json.gz") {
			t.Errorf("stray file %s", key)
			continue
		}
		f, err := os.Open(filepath.Join(root, key))
		if err != nil {
			t.Fatal(err)
		}
		rows := readRows(t, key, f)
		f.Close()
		objects[key] = rows
		all = append(all, rows...)
	}
	return objects, all
}

func TestExportLocalWritesTheLayoutAndEveryEvent(t *testing.T) {
	h := newHarness(t, false)
	want := exportFixture(t, h)
	dest := filepath.Join(t.TempDir(), "table")
	h.mustRun("export", "--local", "--start", "20261122", "--end", "20261124", "--to", dest, "-v")
	if !strings.Contains(h.stderr.String(), "skipping "+filepath.Join(h.logPath, "20261124", "request-20261124.log")+": may still be written") {
		t.Errorf("today's file not reported as skipped:\n%s", h.stderr.String())
	}
	objects, rows := readTree(t, dest)
	totalsOf(want).equal(t, totalsOfRows(rows), "export")
	for key := range objects {
		name := path.Base(key)
		typ := strings.TrimPrefix(strings.Split(key, "/")[0], "type=")
		if !strings.HasPrefix(name, "web1-"+typ+"-2026112") || !strings.HasSuffix(name, "-0000.json.gz") {
			t.Errorf("object name %s: want web1-<type>-<file date>-0000.json.gz", key)
		}
	}
	if _, ok := objects["type=request/date=2026-11-23/hour=05/web1-request-20261123-0000.json.gz"]; !ok {
		t.Errorf("no object at the documented key; have %v", keys(tree(t, dest)))
	}
	before := tree(t, dest)
	h.mustRun("export", "--local", "--start", "20261122", "--end", "20261124", "--to", dest)
	after := tree(t, dest)
	if len(before) != len(after) {
		t.Fatalf("a second export left %d objects, the first %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after a second export", k)
		}
	}
}

func TestExportPartsAreBoundedAndReexportReplacesThem(t *testing.T) {
	h := newHarness(t, false)
	rng := rand.New(rand.NewPCG(3, 4))
	hour := time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)
	data, evs := genLog(t, rng, "request", hour, time.Hour, 12000) // ~3 MiB of JSON in one hour
	h.writeLog("request-20261120.log", data, now)
	dest := t.TempDir()
	h.mustRun("export", "request", "--local", "--start", "20261120", "--to", dest, "--part-mb", "1")
	objects, rows := readTree(t, dest)
	if len(objects) < 3 {
		t.Fatalf("%d objects for ~3 MiB with --part-mb 1, want 3 or more: %v", len(objects), keys(tree(t, dest)))
	}
	for key := range objects {
		f, _ := os.Open(filepath.Join(dest, key))
		zr, _ := gzip.NewReader(f)
		n, _ := io.Copy(io.Discard, zr)
		f.Close()
		if n > 1<<20+4096 {
			t.Errorf("%s holds %d bytes of JSON, over the 1 MiB bound", key, n)
		}
	}
	totalsOf(evs).equal(t, totalsOfRows(rows), "small parts")
	// Bigger parts: fewer objects; those of the first export are gone.
	h.mustRun("export", "request", "--local", "--start", "20261120", "--to", dest, "-v")
	objects, rows = readTree(t, dest)
	if len(objects) != 1 {
		t.Errorf("%d objects after re-export with default parts, want 1: %v", len(objects), keys(tree(t, dest)))
	}
	totalsOf(evs).equal(t, totalsOfRows(rows), "re-export")
	if !strings.Contains(h.stderr.String(), "left by an earlier export") {
		t.Errorf("removal of stale parts not reported:\n%s", h.stderr.String())
	}
}

func TestExportRefusesTypesThatCannotBePartitionValues(t *testing.T) {
	h := newHarness(t, false)
	data, _ := genLog(t, rand.New(rand.NewPCG(5, 6)), "a:b", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Hour, 3)
	h.writeLog("a:b-20261120.log", data, now)
	good, _ := genLog(t, rand.New(rand.NewPCG(5, 6)), "ok", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Hour, 3)
	h.writeLog("ok-20261120.log", good, now)
	dest := t.TempDir()
	err := h.run("export", "a:b", "--local", "--start", "20261120", "--to", dest)
	if !cli.IsUsage(err) || !strings.Contains(err.Error(), "cannot be a partition value") {
		t.Fatalf("export of type a:b: %v, want a usage error naming the partition value", err)
	}
	h.mustRun("export", "--local", "--start", "20261120", "--to", dest, "-v")
	if !strings.Contains(h.stderr.String(), "a:b-20261120.log: type \"a:b\" cannot be a partition value") {
		t.Errorf("skip of a:b not reported:\n%s", h.stderr.String())
	}
	for k := range tree(t, dest) {
		if !strings.HasPrefix(k, "type=ok/") && !strings.HasPrefix(k, shapesDir+"/") {
			t.Errorf("unexpected object %s", k)
		}
	}
}

func TestExportCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no destination", []string{"export", "--local"}, "needs --to"},
		{"a URL that is not s3", []string{"export", "--to", "gs://b/p"}, "want a folder or s3://"},
		{"an empty bucket", []string{"export", "--to", "s3:///p"}, "no bucket"},
		{"a dot-dot prefix", []string{"export", "--to", "s3://b/x/../y"}, "bad prefix"},
		{"a part size of zero", []string{"export", "--local", "--to", "x", "--part-mb", "0"}, "--part-mb"},
		{"an unknown engine", []string{"export", "--to", "x", "--ddl", "oracle"}, "want one of athena"},
		{"athena on a folder", []string{"export", "--to", "x", "--ddl", "athena"}, "needs --to s3://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false)
			err := h.run(tc.args...)
			if !cli.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestExportDDLNamesTheLocationForEveryEngine(t *testing.T) {
	for _, engine := range ddlEngines {
		t.Run(engine, func(t *testing.T) {
			h := newHarness(t, false)
			h.mustRun("export", "--ddl", engine, "--to", "s3://logs/blueox/events")
			out := h.stdout.String()
			for _, want := range []string{"blueox/events", "body", "duration"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s DDL lacks %q:\n%s", engine, want, out)
				}
			}
			if strings.Contains(out, "%!") {
				t.Errorf("%s DDL has a formatting error:\n%s", engine, out)
			}
		})
	}
}

func TestShapeKeepsOneJSONTypePerKey(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		want []string
	}{
		{"matching kinds pass through",
			[]string{`{"a":1,"b":"x","c":[1,2],"d":{"e":true}}`, `{"a":2,"b":"y","c":[],"d":{}}`},
			[]string{`{"a":1,"b":"x","c":[1,2],"d":{"e":true}}`, `{"a":2,"b":"y","c":[],"d":{}}`}},
		{"a number under a string key becomes a string",
			[]string{`{"body":{"user":"u1"}}`, `{"body":{"user":42}}`, `{"body":{"user":{"x":"\"q"}}}`},
			[]string{`{"body":{"user":"u1"}}`, `{"body":{"user":"42"}}`, `{"body":{"user":"{\"x\":\"\\\"q\"}"}}`}},
		{"a string under a number key becomes null",
			[]string{`{"body":{"status":200}}`, `{"body":{"status":"oops"}}`},
			[]string{`{"body":{"status":200}}`, `{"body":{"status":null}}`}},
		{"null fits every key and fixes none",
			[]string{`{"body":{"k":null}}`, `{"body":{"k":"s"}}`, `{"body":{"k":null}}`},
			[]string{`{"body":{"k":null}}`, `{"body":{"k":"s"}}`, `{"body":{"k":null}}`}},
		{"an integer under a float key gets a fraction",
			[]string{`{"body":{"t":0.5}}`, `{"body":{"t":2}}`, `{"body":{"t":-1e-7}}`},
			[]string{`{"body":{"t":0.5}}`, `{"body":{"t":2.0}}`, `{"body":{"t":-1e-7}}`}},
		{"top-level keys have fixed kinds",
			[]string{`{"body":"text","pid":"x","start":1}`},
			[]string{`{"body":null,"pid":null,"start":1.0}`}},
		{"array elements are one key",
			[]string{`{"body":{"v":[1,"a",2.5]}}`},
			[]string{`{"body":{"v":[1,null,2.5]}}`}},
		{"keys with escapes",
			[]string{`{"body":{"a\"b":1,"c\\":[{"d":"e"}]}}`, `{"body":{"a\"b":"x","c\\":[{"d":1}]}}`},
			[]string{`{"body":{"a\"b":1,"c\\":[{"d":"e"}]}}`, `{"body":{"a\"b":null,"c\\":[{"d":"1"}]}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newShaper()
			for i, doc := range tc.docs {
				got := string(s.apply(nil, []byte(doc)))
				if got != tc.want[i] {
					t.Errorf("row %d: %s\n got %s\nwant %s", i, doc, got, tc.want[i])
				}
				if !json.Valid([]byte(got)) {
					t.Errorf("row %d: invalid JSON %s", i, got)
				}
			}
		})
	}
}

func TestShapeReportNamesTheKey(t *testing.T) {
	s := newShaper()
	for _, doc := range []string{`{"body":{"r":{"status":200}}}`, `{"body":{"r":{"status":"x"}}}`, `{"body":{"r":{"status":true}}}`} {
		s.apply(nil, []byte(doc))
	}
	got := strings.Join(s.report("request"), "\n")
	if !strings.Contains(got, "request: body.r.status: 2 value(s)") || !strings.Contains(got, "(number) written as null") {
		t.Fatalf("report %q", got)
	}
}

func TestExportedRowsKeepTheirShapeAcrossFiles(t *testing.T) {
	h := newHarness(t, false)
	mk := func(body map[string]any) []byte {
		b, err := ox.AppendValue(nil, map[string]any{"type": "x", "id": "i", "host": "vm", "pid": int64(1), "start": 1795527978.0, "end": 1795527979.0, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	h.writeLog("x-20261120.log", mk(map[string]any{"status": int64(200), "user": "u1"}), now)
	h.writeLog("x-20261121.log", append(mk(map[string]any{"status": "bad", "user": int64(7)}), mk(map[string]any{"status": 1.5})...), now)
	dest := t.TempDir()
	h.mustRun("export", "--local", "--start", "20261120", "--end", "20261121", "--to", dest)
	_, rows := readTree(t, dest)
	var statuses, users []string
	for _, r := range rows {
		s, _ := json.Marshal(r.Body["status"])
		u, _ := json.Marshal(r.Body["user"])
		statuses, users = append(statuses, string(s)), append(users, string(u))
	}
	sort.Strings(statuses)
	sort.Strings(users)
	if got := strings.Join(statuses, " "); got != "1.5 200 null" {
		t.Errorf("statuses %s", got)
	}
	if got := strings.Join(users, " "); got != `"7" "u1" null` {
		t.Errorf("users %s", got)
	}
	if !strings.Contains(h.stderr.String(), "x: body.status: 1 value(s)") {
		t.Errorf("no report of the rewritten value:\n%s", h.stderr.String())
	}
}

func TestExportKeepsTheShapeForTheNextRun(t *testing.T) {
	h := newHarness(t, false)
	mk := func(status any) []byte {
		b, err := ox.AppendValue(nil, map[string]any{"type": "x", "start": 1795527978.0, "end": 1795527979.0, "body": map[string]any{"status": status}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	h.writeLog("x-20261120.log", mk(int64(200)), now)
	h.writeLog("x-20261121.log", mk("bad"), now)
	dest := t.TempDir()
	h.mustRun("export", "--local", "--start", "20261120", "--to", dest)
	stored, err := os.ReadFile(filepath.Join(dest, shapesDir, "x.json"))
	if err != nil || !strings.Contains(string(stored), `"status":{"kind":"integer"}`) {
		t.Fatalf("stored shape %s (%v)", stored, err)
	}
	// A later run, another file: the first run's kinds still hold.
	h.mustRun("export", "--local", "--start", "20261121", "--to", dest)
	_, rows := readTree(t, dest)
	var got []string
	for _, r := range rows {
		b, _ := json.Marshal(r.Body["status"])
		got = append(got, string(b))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "200 null" {
		t.Errorf("statuses over two runs: %v, want 200 and null", got)
	}
	// A damaged shape file is named.
	os.WriteFile(filepath.Join(dest, shapesDir, "x.json"), []byte("{"), 0o644)
	if err := h.run("export", "--local", "--start", "20261121", "--to", dest); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Errorf("export over a damaged shape: %v", err)
	}
}

// bucketRows reads every object under prefix in the bucket.
func bucketRows(t *testing.T, h *harness, bucket, prefix string) (map[string]string, []row) {
	t.Helper()
	c := h.client()
	etags := map[string]string{}
	var rows []row
	for o, err := range c.ListObjectsV2(context.Background(), bucket, s3sig.ListOptions{Prefix: prefix + "/"}) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(o.Key, prefix+"/"+shapesDir+"/") {
			continue
		}
		rc, _, err := c.GetObject(context.Background(), bucket, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(o.Key, prefix+"/")
		rows = append(rows, readRows(t, rel, bytes.NewReader(b))...)
		etags[rel] = o.ETag
	}
	return etags, rows
}

func TestExportFromTheBucketToABucketPrefix(t *testing.T) {
	h := newHarness(t, true)
	want := exportFixture(t, h)
	h.mustRun("upload")
	out := h.newBucket("tables-")
	to := "s3://" + out + "/blueox/events"
	h.mustRun("export", "--start", "20261122", "--end", "20261124", "--to", to, "-v")
	first, rows := bucketRows(t, h, out, "blueox/events")
	totalsOf(want).equal(t, totalsOfRows(rows), "bucket export")
	for key := range first {
		if !strings.Contains(key, "/web1-request") {
			t.Errorf("object %s does not carry the host of the source file", key)
		}
	}
	h.mustRun("export", "--start", "20261122", "--end", "20261124", "--to", to)
	second, rows := bucketRows(t, h, out, "blueox/events")
	totalsOf(want).equal(t, totalsOfRows(rows), "second bucket export")
	if len(first) != len(second) {
		t.Fatalf("second export: %d objects, first %d", len(second), len(first))
	}
	for k, etag := range first {
		if second[k] != etag {
			t.Errorf("%s: ETag %q after the second export, %q before", k, second[k], etag)
		}
	}
	// A bigger part size on one type: its old parts are replaced, not kept.
	h.mustRun("export", "request.db", "--start", "20261123", "--to", to, "--part-mb", "4096")
	_, rows = bucketRows(t, h, out, "blueox/events")
	totalsOf(want).equal(t, totalsOfRows(rows), "third bucket export")
}

func TestUploadSaysWhichFilesItSkipped(t *testing.T) {
	h := newHarness(t, true)
	h.writeLog("request-20261124.log", []byte{0x80}, now.Add(-time.Minute))
	h.writeLog("request-20261121.log", []byte{0x80}, now.Add(-time.Minute)) // copied in a minute ago
	h.mustRun("upload", "-v")
	errs := h.stderr.String()
	if !strings.Contains(errs, "skipping "+filepath.Join(h.logPath, "20261124", "request-20261124.log")+": may still be written") ||
		!strings.Contains(errs, "1/1 files, 1 skipped") {
		t.Errorf("upload -v does not say what it skipped:\n%s", errs)
	}
	if _, err := h.client().HeadObject(context.Background(), h.env["BLUEOX_BUCKET"], "20261121/request-20261121-web1.log"); err != nil {
		t.Errorf("the old file copied in a minute ago was not uploaded: %v", err)
	}
}

func TestArchiveExportsTheFilesItUploads(t *testing.T) {
	h := newHarness(t, true)
	want := exportFixture(t, h)
	dest := t.TempDir()
	h.mustRun("archive", "--export", dest)
	_, rows := readTree(t, dest)
	totalsOf(want).equal(t, totalsOfRows(rows), "archive --export")
	before := tree(t, dest)
	h.mustRun("archive", "--export", dest, "-v")
	if after := tree(t, dest); len(after) != len(before) {
		t.Errorf("a second archive changed the export: %d objects, %d before", len(after), len(before))
	}
}

func TestEveryCommandSaysWhatItSkipped(t *testing.T) {
	data := fixture(t, "logs-daily/20261124/request-20261124.log")
	tests := []struct {
		name  string
		s3    bool
		setup func(h *harness)
		args  []string
		want  string // on stderr, with <log> the log path
	}{
		{"zip: a file still written", false, nil,
			[]string{"zip", "-v"}, "zip: skipping <log>/20261124/request-20261124.log: may still be written"},
		{"prune: not a date folder", false, func(h *harness) { os.WriteFile(filepath.Join(h.logPath, "notes.txt"), nil, 0o644) },
			[]string{"prune", "-v"}, "prune: skipping <log>/notes.txt: not a YYYYMMDD date folder"},
		{"cat: a second copy", false, func(h *harness) {
			p := h.writeLog("request-20261121.log", data, now)
			os.WriteFile(p+".gz", gzipBytes(t, data), 0o644)
		}, []string{"cat", "request", "--local", "--start", "20261121", "-v"}, "cat: skipping request-20261121.log.gz: a copy of request-20261121.log, which is read instead"},
		{"export: a file still written", false, nil,
			[]string{"export", "--local", "--start", "20261124", "--to", "<tmp>", "-v"}, "export: skipping <log>/20261124/request-20261124.log: may still be written"},
		{"upload: a file still written", true, nil,
			[]string{"upload", "-v"}, "upload: skipping <log>/20261124/request-20261124.log: may still be written"},
		{"verify: a file still written", true, nil,
			[]string{"verify", "-v"}, "verify: skipping <log>/20261124/request-20261124.log: may still be written"},
		{"download: a key that is not a log file", true, func(h *harness) {
			if _, err := h.client().PutObject(context.Background(), h.env["BLUEOX_BUCKET"], "20261124/request-notes.txt", bytes.NewReader([]byte("x")), 1, s3sig.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"download", "request", "-v"}, "download: skipping 20261124/request-notes.txt: not a log file name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.s3)
			h.writeLog("request-20261124.log", data, now.Add(-48*time.Hour)) // today's: active whatever its time
			if tc.setup != nil {
				tc.setup(h)
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "<tmp>", t.TempDir())
			}
			h.run(args...)
			if want := strings.ReplaceAll(tc.want, "<log>", h.logPath); !strings.Contains(h.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, h.stderr.String())
			}
		})
	}
}

func TestExportOfADamagedFileKeepsWhatCameBeforeAndWarns(t *testing.T) {
	h := newHarness(t, false)
	data, evs := genLog(t, rand.New(rand.NewPCG(9, 9)), "request", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Hour, 50)
	one := len(data) / len(evs)
	var cut int
	for n := 0; n < len(data); {
		l, err := ox.ValueLen(data[n:])
		if err != nil {
			t.Fatal(err)
		}
		if n+l > 30*one {
			cut = n
			break
		}
		n += l
	}
	h.writeLog("request-20261120.log", append(data[:cut:cut], 0x01, 0x02, 0x03), now)
	dest := t.TempDir()
	h.mustRun("export", "--local", "--start", "20261120", "--to", dest)
	_, rows := readTree(t, dest)
	if len(rows) == 0 || len(rows) >= len(evs) {
		t.Fatalf("%d rows from a file damaged after some of its %d events", len(rows), len(evs))
	}
	totalsOf(evs[:len(rows)]).equal(t, totalsOfRows(rows), "damaged file")
	if !strings.Contains(h.stderr.String(), "the rest of this file is skipped") {
		t.Errorf("no warning about the damage:\n%s", h.stderr.String())
	}
}
