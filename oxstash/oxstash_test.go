package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/esbulk/esbulktest"
	"github.com/blueox/ox/internal/testenv"
)

// runOxstash runs the command as main would, without a signal.
func runOxstash(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, stdin, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func fixtureFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Fixture(t, dir), "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures %s: %v", dir, err)
	}
	return files
}

func concat(t *testing.T, files []string) []byte {
	t.Helper()
	var b []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, data...)
	}
	return b
}

// eventKey identifies an event of the fixtures: events share ids (a request and
// its sub-events), but not a type and start time.
func eventKey(typ string, start float64) string {
	return typ + "@" + strconv.FormatFloat(start, 'f', -1, 64)
}

// flatten applies VictoriaLogs' storage rules to an event as the original decoded
// it: nested objects become dotted names, null and "" are dropped; arrays stay
// JSON (compared by value).
func flatten(prefix string, v any, out map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			flatten(prefix+k+".", e, out)
		}
	case nil:
	case string:
		if v != "" {
			out[strings.TrimSuffix(prefix, ".")] = v
		}
	default:
		out[strings.TrimSuffix(prefix, ".")] = v
	}
}

// checkRows compares the rows a store returned with the original's events: each
// exactly once, every field with its value, nothing else.
func checkRows(t *testing.T, rows []map[string]string, want []testenv.WireFrame) {
	t.Helper()
	byKey := map[string]map[string]any{}
	for _, w := range want {
		byKey[eventKey(w.EventJSON["type"].(string), w.EventJSON["start"].(float64))] = w.EventJSON
	}
	if len(rows) != len(want) {
		t.Errorf("store holds %d rows, want %d", len(rows), len(want))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		start, _ := strconv.ParseFloat(row["start"], 64)
		key := eventKey(row["type"], start)
		ev, ok := byKey[key]
		if !ok {
			t.Errorf("unexpected row %v", row)
			continue
		}
		if seen[key] {
			t.Errorf("event %s stored twice", key)
		}
		seen[key] = true
		end := ev["end"].(float64)
		if got, err := time.Parse(time.RFC3339Nano, row["_time"]); err != nil || !got.Equal(ox.FloatTime(end)) {
			t.Errorf("%s: _time (from @timestamp) %q, want %v", key, row["_time"], ox.FloatTime(end))
		}
		if d, err := strconv.ParseFloat(row["duration"], 64); err != nil || math.Abs(d-(end-ev["start"].(float64))) > 1e-6 {
			t.Errorf("%s: duration %q", key, row["duration"])
		}
		fields := map[string]any{}
		flatten("", ev, fields)
		for k, w := range fields {
			got, ok := row[k]
			if !ok {
				t.Errorf("%s: field %s missing", key, k)
				continue
			}
			if !sameValue(got, w) {
				t.Errorf("%s: field %s = %q, want %v", key, k, got, w)
			}
		}
		for k := range row {
			switch k {
			case "_msg", "_stream", "_stream_id", "_time", "duration", "run":
				continue
			}
			if _, ok := fields[k]; !ok {
				t.Errorf("%s: unexpected field %s = %q", key, k, row[k])
			}
		}
	}
}

// sameValue compares a stored (string) value with a decoded JSON value.
func sameValue(got string, want any) bool {
	switch w := want.(type) {
	case string:
		return got == w
	case bool:
		return got == strconv.FormatBool(w)
	case float64:
		f, err := strconv.ParseFloat(got, 64)
		return err == nil && f == w
	case []any:
		var g any
		return json.Unmarshal([]byte(got), &g) == nil && jsonEqual(g, w)
	}
	return false
}

// The fixture log files, shipped every way oxstash reads files, arrive in a
// real bulk-API store each exactly once with all their fields.
func TestShipsTheFixtureLogFilesIntoVictoriaLogs(t *testing.T) {
	vl := esbulktest.StartVictoriaLogs(t)
	all := testenv.WireFrames(t)
	only := func(keep func(typ string) bool) []testenv.WireFrame {
		var out []testenv.WireFrame
		for _, w := range all {
			if keep(w.EventJSON["type"].(string)) {
				out = append(out, w)
			}
		}
		return out
	}
	daily := fixtureFiles(t, "logs-daily")
	zipped := fixtureFiles(t, "logs-zipped")
	tests := []struct {
		name  string
		stdin []byte
		args  []string
		want  []testenv.WireFrame
	}{
		{"daily", nil, daily, all},
		{"zipped", nil, zipped, only(func(typ string) bool { return typ == "request" || typ == "request.db" })},
		{"stdin", concat(t, daily), nil, all},
		{"dash", concat(t, zipped[:1]), []string{"-"}, only(func(typ string) bool { return typ == "request" })},
		{"prefix", concat(t, daily), []string{"-n", "request*"}, only(func(typ string) bool { return strings.HasPrefix(typ, "request") })},
		{"exact", concat(t, daily), []string{"--type-name", "request.db"}, only(func(typ string) bool { return typ == "request.db" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node := vl.BulkNode("_time_field", "@timestamp", "_stream_fields", "type,host", "extra_fields", "run="+tc.name)
			args := append([]string{"-e", node, "--dead-letter", filepath.Join(t.TempDir(), "dead")}, tc.args...)
			_, stderr, err := runOxstash(t, context.Background(), bytes.NewReader(tc.stdin), args...)
			if err != nil {
				t.Fatalf("oxstash: %v\n%s", err, stderr)
			}
			n := len(tc.want)
			want := fmt.Sprintf("%s read\noxstash: %s: %d indexed, 0 not delivered, 0 rejected by the node", plural(n, "event"), plural(n, "document"), n)
			if !strings.Contains(stderr, want) {
				t.Fatalf("summary %q, want %q", stderr, want)
			}
			checkRows(t, vl.Query(t, `run:="`+tc.name+`"`), tc.want)
		})
	}
}

// fakeBulk is an httptest stand-in for Elasticsearch that can reject documents
// the way Elasticsearch documents it.
type fakeBulk struct {
	srv *httptest.Server

	mu     sync.Mutex
	docs   []map[string]any // documents accepted
	ids    []string
	index  []string
	reject func(doc map[string]any) (int, string) // status and error object for an item
}

func newFakeBulk(t *testing.T) *fakeBulk { return startFakeBulk(t, false) }

func startFakeBulk(t *testing.T, https bool) *fakeBulk {
	f := &fakeBulk{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 64<<20)
		var items []string
		errs := false
		for sc.Scan() {
			var meta map[string]struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			}
			if json.Unmarshal(sc.Bytes(), &meta) != nil || !sc.Scan() {
				http.Error(w, `{"error":"bad bulk body"}`, 400)
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				http.Error(w, `{"error":"bad document"}`, 400)
				return
			}
			status, errObj := 201, ""
			f.mu.Lock()
			if f.reject != nil {
				if s, e := f.reject(doc); s != 0 {
					status, errObj = s, e
				}
			}
			if status == 201 {
				f.docs = append(f.docs, doc)
				f.ids = append(f.ids, meta["index"].ID)
				f.index = append(f.index, meta["index"].Index)
			}
			f.mu.Unlock()
			if errObj != "" {
				errs = true
				errObj = `,"error":` + errObj
			}
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":%d%s}}`, meta["index"].ID, status, errObj))
		}
		fmt.Fprintf(w, `{"took":1,"errors":%t,"items":[%s]}`, errs, strings.Join(items, ","))
	}))
	if https {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBulk) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs)
}

// A document the store rejects for good goes to the dead-letter file with the
// reason, the exit status says so, and --replay sends it again once fixed.
func TestRejectedDocumentsGoToTheDeadLetterFileAndCanBeReplayed(t *testing.T) {
	es := newFakeBulk(t)
	queueFull := true
	es.reject = func(doc map[string]any) (int, string) {
		switch {
		case doc["type"] == "big":
			return 400, `{"type":"mapper_parsing_exception","reason":"failed to parse field [body.int64] of type [integer]"}`
		case doc["type"] == "request.cache" && queueFull:
			queueFull = false
			return 429, `{"type":"es_rejected_execution_exception","reason":"rejected execution"}`
		}
		return 0, ""
	}
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	_, stderr, err := runOxstash(t, context.Background(), nil, append([]string{"-e", es.srv.URL, "-d", dead}, fixtureFiles(t, "logs-daily")...)...)
	if err == nil || err.Error() != "oxstash: 1 document rejected by the node" {
		t.Fatalf("oxstash returned %v, want 1 failure\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "8 events read\noxstash: 8 documents: 7 indexed, 0 not delivered, 1 rejected by the node") ||
		!strings.Contains(stderr, "oxstash: rejected by the node: status 400: mapper_parsing_exception") ||
		!strings.Contains(stderr, "1 document appended to "+dead) {
		t.Fatalf("summary %q", stderr)
	}
	if es.count() != 7 {
		t.Fatalf("store accepted %d documents, want 7 (the 429 retried)", es.count())
	}
	b, err := os.ReadFile(dead)
	if err != nil {
		t.Fatal(err)
	}
	var line deadLine
	if err := json.Unmarshal(bytes.TrimSpace(b), &line); err != nil {
		t.Fatalf("dead-letter file %q: %v", b, err)
	}
	var doc map[string]any
	json.Unmarshal(line.Doc, &doc)
	if line.Status != 400 || line.ErrorType != "mapper_parsing_exception" || !strings.Contains(line.Reason, "failed to parse field") ||
		doc["type"] != "big" || line.Index != "blueox-2026.11.24" || len(line.ID) != 32 {
		t.Fatalf("dead-letter line %s", b)
	}

	t.Run("replay after the fix", func(t *testing.T) {
		es.mu.Lock()
		es.reject = nil
		es.mu.Unlock()
		_, stderr, err := runOxstash(t, context.Background(), nil, "-e", es.srv.URL, "--replay", dead, "-d", dead+".again")
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, stderr)
		}
		es.mu.Lock()
		defer es.mu.Unlock()
		last := len(es.docs) - 1
		if len(es.docs) != 8 || es.docs[last]["type"] != "big" || es.ids[last] != line.ID || es.index[last] != line.Index {
			t.Fatalf("after replay the store holds %d documents, last %v %s %s", len(es.docs), es.docs[last], es.ids[last], es.index[last])
		}
		if _, err := os.Stat(dead + ".again"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a clean replay created a dead-letter file: %v", err)
		}
	})
	t.Run("replay into itself is refused", func(t *testing.T) {
		_, _, err := runOxstash(t, context.Background(), nil, "-e", es.srv.URL, "--replay", dead, "-d", dead)
		var u usageError
		if !errors.As(err, &u) {
			t.Fatalf("err %v, want a usage error", err)
		}
	})
}

func TestNothingIsLostWhenTheStoreIsDown(t *testing.T) {
	es := newFakeBulk(t)
	url := es.srv.URL
	es.srv.Close() // connection refused from now on
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	_, stderr, err := runOxstash(t, context.Background(), nil, append([]string{"-e", url, "-d", dead, "--max-retries", "0"}, fixtureFiles(t, "logs-daily")...)...)
	if err == nil || !strings.Contains(stderr, "8 documents: 0 indexed, 8 not delivered, 0 rejected by the node") ||
		!strings.Contains(stderr, "oxstash: not delivered, node unreachable: ") || strings.Contains(stderr, "rejected documents") {
		t.Fatalf("err %v, summary %q", err, stderr)
	}
	b, _ := os.ReadFile(dead)
	if n := bytes.Count(b, []byte("\n")); n != 8 || !bytes.Contains(b, []byte("refused")) {
		t.Fatalf("dead-letter file has %d lines:\n%s", n, b)
	}
}

// stallingReader hands out its data, then blocks like a pipe nobody writes to,
// saying so on stalled.
type stallingReader struct {
	data    []byte
	stalled chan struct{}
	release chan struct{}
	once    sync.Once
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.once.Do(func() { close(r.stalled) })
	<-r.release
	return 0, io.EOF
}

// On SIGTERM (ctx cancelled) oxstash stops reading, even from a blocked stdin,
// and flushes what it holds.
func TestSignalFlushesWhatWasRead(t *testing.T) {
	es := newFakeBulk(t)
	in := &stallingReader{data: concat(t, fixtureFiles(t, "logs-daily")), stalled: make(chan struct{}), release: make(chan struct{})}
	defer close(in.release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		stderr string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		err := run(ctx, []string{"-e", es.srv.URL, "--flush-interval", "1h", "-d", filepath.Join(t.TempDir(), "dead")}, in, &stdout, &stderr)
		done <- result{stderr.String(), err}
	}()
	<-in.stalled // every event has been read and is buffered
	if n := es.count(); n != 0 {
		t.Fatalf("%d documents sent before the signal", n)
	}
	cancel()
	r := <-done
	if r.err != nil || !strings.Contains(r.stderr, "8 indexed, 0 not delivered, 0 rejected by the node") || !strings.Contains(r.stderr, "(interrupted)") {
		t.Fatalf("err %v, summary %q", r.err, r.stderr)
	}
	if n := es.count(); n != 8 {
		t.Fatalf("%d documents sent, want 8", n)
	}
}

func TestUsage(t *testing.T) {
	dl := filepath.Join(t.TempDir(), "dl")
	os.WriteFile(dl, nil, 0o644)
	bad := [][]string{
		{"--no-such-flag"},
		{"-e", "ftp://es"},
		{"-e", "es:port"},
		{"-i", "UpperCase"},
		{"-i", "_private"},
		{"-p", "with space"},
		{"--chunk_size", "0"},
		{"--request_timeout", "soon"},
		{"--request_timeout", "-1"},
		{"--flush-interval", "0s"},
		{"-H", "127.0.0.1:notaport"},
		{"-H", "oxd", "file.log"},
		{"-n", "a*b"},
		{"--replay", dl, "-H", "oxd"},
		{"--replay", dl, "-d", dl},
	}
	for _, args := range bad {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, err := runOxstash(t, context.Background(), nil, args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("err %v, want a usage error", err)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		stdout, _, err := runOxstash(t, context.Background(), nil, "-h")
		if !errors.Is(err, errHelp) || !strings.Contains(stdout, "--index_base") || !strings.Contains(stdout, "--replay") {
			t.Fatalf("err %v, stdout %q", err, stdout)
		}
	})
	t.Run("request_timeout in seconds or as a duration", func(t *testing.T) {
		for in, want := range map[string]time.Duration{"3": 3 * time.Second, "2.5": 2500 * time.Millisecond, "150ms": 150 * time.Millisecond} {
			o, err := parseOptions([]string{"--request_timeout", in}, io.Discard)
			if err != nil || o.requestTimeout != want {
				t.Errorf("%s: %v %v", in, o, err)
			}
		}
	})
	t.Run("nodes repeat and split on commas", func(t *testing.T) {
		o, err := parseOptions([]string{"-e", "a:1,b:2", "--elasticsearch", "https://c/x"}, io.Discard)
		if err != nil || !slices.Equal(o.nodes, []string{"a:1", "b:2", "https://c/x"}) {
			t.Fatalf("%v %v", o, err)
		}
	})
	t.Run("credentials from the environment", func(t *testing.T) {
		t.Setenv("ELASTICSEARCH_USERNAME", "elastic")
		t.Setenv("ELASTICSEARCH_PASSWORD", "pw")
		t.Setenv("ELASTICSEARCH_API_KEY", "key")
		o, err := parseOptions(nil, io.Discard)
		if err != nil || o.user != "elastic:pw" || o.apiKey != "key" {
			t.Fatalf("%v %v", o, err)
		}
		o, err = parseOptions([]string{"-u", "shipper"}, io.Discard)
		if err != nil || o.user != "shipper:pw" {
			t.Fatalf("%v %v", o, err)
		}
	})
}

func TestBadInputIsReportedAndCounted(t *testing.T) {
	es := newFakeBulk(t)
	good := concat(t, fixtureFiles(t, "logs-daily")[:1])
	tests := []struct {
		name  string
		input []byte
		read  int
	}{
		{"not a map after an event", append(append([]byte(nil), good...), 0x91, 0x01), 1},
		{"cut short", append(append([]byte(nil), good...), 0x81, 0xa1), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := es.count()
			_, stderr, err := runOxstash(t, context.Background(), bytes.NewReader(tc.input), "-e", es.srv.URL, "-d", filepath.Join(t.TempDir(), "dead"))
			if err == nil || !strings.Contains(stderr, "1 indexed") || es.count() != before+1 {
				t.Fatalf("err %v, stderr %q", err, stderr)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, stderr, err := runOxstash(t, context.Background(), nil, "-e", es.srv.URL, filepath.Join(t.TempDir(), "nope.log"))
		if err == nil || !strings.Contains(stderr, "no such file") {
			t.Fatalf("err %v, stderr %q", err, stderr)
		}
	})
}

func TestShipsOverHTTPSWithTheStoresOwnCA(t *testing.T) {
	es := startFakeBulk(t, true)
	es.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: es.srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	files := fixtureFiles(t, "logs-daily")
	dead := filepath.Join(t.TempDir(), "dead")
	if _, stderr, err := runOxstash(t, context.Background(), nil, append([]string{"-e", es.srv.URL, "--ca-cert", ca, "-d", dead}, files...)...); err != nil || es.count() != 8 {
		t.Fatalf("err %v, %d documents\n%s", err, es.count(), stderr)
	}
	if _, stderr, err := runOxstash(t, context.Background(), nil, append([]string{"-e", es.srv.URL, "-d", dead}, files...)...); err == nil || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without --ca-cert: err %v\n%s", err, stderr)
	}
	if _, _, err := runOxstash(t, context.Background(), nil, "-e", es.srv.URL, "--ca-cert", dead+"-none"); err == nil {
		t.Fatal("a missing --ca-cert file was accepted")
	}
}

func TestReplayReportsLinesThatAreNotDeadLetters(t *testing.T) {
	es := newFakeBulk(t)
	file := filepath.Join(t.TempDir(), "edited.ndjson")
	content := `{"index":"blueox-2026.11.24","id":"a","reason":"x","doc":{"type":"request","n":1}}
not json
{"index":"blueox-2026.11.24","id":"b","reason":"x"}

{"index":"blueox-2026.11.24","id":"c","reason":"x","doc":{"type":"request","n":3}}
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runOxstash(t, context.Background(), nil, "-e", es.srv.URL, "--replay", file, "-i", "fixed", "-d", file+".again")
	if err == nil || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "line 3") || strings.Contains(stderr, "line 5") {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if !slices.Equal(es.ids, []string{"a", "c"}) || !slices.Equal(es.index, []string{"fixed", "fixed"}) {
		t.Fatalf("store got ids %v in %v", es.ids, es.index)
	}
}
