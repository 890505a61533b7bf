package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// duckDB returns node and the folder holding node_modules/@duckdb/node-api,
// as .ci/deps.d/export.sh installs it ($OX_DUCKDB_NODE overrides), or skips
// (fails under CI=true).
func duckDB(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Skip(t, "node not installed (run `make deps`)")
	}
	var candidates []string
	if d := os.Getenv("OX_DUCKDB_NODE"); d != "" {
		candidates = append(candidates, d)
	}
	if d := os.Getenv("OX_TOOLS_BIN"); d != "" {
		candidates = append(candidates, filepath.Join(d, "..", "duckdb-node"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "ox-test", "duckdb-node"))
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "node_modules", "@duckdb", "node-api", "package.json")); err == nil {
			return node, d
		}
	}
	testenv.Skip(t, "@duckdb/node-api not installed (run `make deps`; looked in %v)", candidates)
	return "", ""
}

// duckQuery runs statements in one DuckDB session and returns the rows of
// each.
func duckQuery(t *testing.T, statements ...string) [][]map[string]any {
	t.Helper()
	node, dir := duckDB(t)
	in, _ := json.Marshal(statements)
	cmd := exec.Command(node, filepath.Join("testdata", "duckdb.mjs"), dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s\nstatements:\n%s", err, stderr.String(), strings.Join(statements, "\n"))
	}
	var res [][]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v: %s", err, out)
	}
	return res
}

// TestDuckDBReadsTheExportAsTheSourceFilesSay exports log files, runs the
// statement `--ddl duckdb` prints as printed, and checks DuckDB's answers
// against what the test computes from the events it wrote.
func TestDuckDBReadsTheExportAsTheSourceFilesSay(t *testing.T) {
	duckDB(t)
	h := newHarness(t, false)
	want := exportFixture(t, h)
	dest := filepath.Join(t.TempDir(), "table")
	h.mustRun("export", "--local", "--start", "20261122", "--end", "20261124", "--to", dest)
	h.mustRun("export", "--ddl", "duckdb", "--to", dest)
	ddl := h.stdout.String()

	var wantIDs []string
	for _, e := range want {
		if e.path == "/login" && e.status == 500 {
			wantIDs = append(wantIDs, e.id)
		}
	}
	sort.Strings(wantIDs)
	res := duckQuery(t, ddl,
		`SELECT type, strftime("date", '%Y-%m-%d') AS d, hour, count(*) AS n, sum(duration) AS s FROM blueox GROUP BY ALL`,
		`SELECT id FROM blueox WHERE (body->>'$.path') = '/login' AND json_extract_string(body, '$.response.status') = '500' ORDER BY id`,
		// The shape lets DuckDB infer body as a struct with typed fields.
		`SELECT count(*) AS n FROM read_json('`+dest+`/**/*.json.gz', hive_partitioning = true)
		 WHERE body.response.status = 500 AND body.path = '/login'`,
		// The worked query of docs/oxstore.md.
		`SELECT json_extract_string(body, '$.path') AS endpoint, quantile_cont(duration, 0.99) AS p99, count(*) AS n
		 FROM blueox WHERE type = 'request' AND "date" >= DATE '2026-11-01' AND "date" < DATE '2026-12-01'
		 GROUP BY endpoint ORDER BY endpoint`,
	)

	got := totals{}
	for _, r := range res[1] {
		k := fmt.Sprintf("%s/%s/%02d", r["type"], r["d"], int(r["hour"].(float64)))
		n, _ := strconv.Atoi(fmt.Sprint(r["n"]))
		got[k] = struct {
			n   int
			sum float64
		}{n, r["s"].(float64)}
	}
	totalsOf(want).equal(t, got, "duckdb")

	var ids []string
	for _, r := range res[2] {
		ids = append(ids, r["id"].(string))
	}
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") || len(ids) == 0 {
		t.Errorf("filter on body.path and body.response.status: %d ids, want %d\n got %v\nwant %v", len(ids), len(wantIDs), ids, wantIDs)
	}
	if n := fmt.Sprint(res[3][0]["n"]); n != strconv.Itoa(len(wantIDs)) {
		t.Errorf("inferred struct: %s rows, want %d", n, len(wantIDs))
	}
	perEndpoint := map[string]int{}
	for _, e := range want {
		if e.typ == "request" {
			perEndpoint[e.path]++
		}
	}
	if len(res[4]) != len(perEndpoint) {
		t.Errorf("p99 per endpoint: %v", res[4])
	}
	for _, r := range res[4] {
		if n := fmt.Sprint(r["n"]); n != strconv.Itoa(perEndpoint[r["endpoint"].(string)]) {
			t.Errorf("endpoint %v: %s rows, want %d", r["endpoint"], n, perEndpoint[r["endpoint"].(string)])
		}
		if p := r["p99"].(float64); p <= 0 || p > 2 {
			t.Errorf("endpoint %v: p99 %v", r["endpoint"], p)
		}
	}
}
