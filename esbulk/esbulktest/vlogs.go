// Package esbulktest runs a real store that speaks the Elasticsearch bulk API for
// integration tests: VictoriaLogs, installed by `make deps` (bash .ci/deps).
//
// VictoriaLogs accepts bulk requests at /insert/elasticsearch/_bulk. It ignores
// _index and _id, answers every item with {"create":{"status":201}}, stores each
// document as flat fields (nested objects become dotted names, arrays, numbers and
// booleans become strings, null and "" are dropped) and takes the log time from
// the field named by the _time_field query argument and the message from
// _msg_field. Freshly ingested rows become searchable within about a second, or at
// once after a request to /internal/force_flush, which Query does first.
package esbulktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

// VictoriaLogs is a running VictoriaLogs server owned by one test.
type VictoriaLogs struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Cmd is the server process (for reading its CPU use, say).
	Cmd *exec.Cmd

	log *testenv.SyncBuffer
}

// StartVictoriaLogs starts VictoriaLogs on a free loopback port with its data in a
// temporary directory, waits until it answers, and stops it when the test ends.
// Without the binary the test is skipped (failed under CI=true).
func StartVictoriaLogs(t testing.TB) *VictoriaLogs {
	t.Helper()
	bin := testenv.Binary(t, "victoria-logs")
	dir := t.TempDir()
	var lastErr error
	for range 3 { // another process may take the free port before the server binds it
		port := testenv.FreePort(t)
		v := &VictoriaLogs{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: &testenv.SyncBuffer{}}
		v.Cmd = exec.Command(bin,
			"-httpListenAddr", "127.0.0.1:"+strconv.Itoa(port),
			"-storageDataPath", filepath.Join(dir, "data-"+strconv.Itoa(port)),
			// Fixtures carry fixed dates: keep them whatever today's date is.
			"-retentionPeriod", "100y", "-futureRetention", "100y",
			"-loggerLevel", "WARN",
		)
		v.Cmd.Stdout, v.Cmd.Stderr = v.log, v.log
		if err := v.Cmd.Start(); err != nil {
			t.Fatalf("start victoria-logs: %v", err)
		}
		exited := make(chan struct{})
		go func() { v.Cmd.Wait(); close(exited) }()
		stop := func() {
			v.Cmd.Process.Kill()
			<-exited
		}
		if lastErr = v.waitReady(exited); lastErr == nil {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("victoria-logs output:\n%s", v.log.String())
				}
			})
			return v
		}
		stop()
	}
	t.Fatalf("victoria-logs did not start: %v", lastErr)
	return nil
}

func (v *VictoriaLogs) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", v.log.String())
		default:
		}
		resp, err := http.Get(v.URL + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Equal(bytes.TrimSpace(body), []byte("OK")) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s/health within 30s", v.URL)
}

// BulkNode returns the node URL that targets the Elasticsearch-compatible endpoint,
// with query arguments (e.g. "_time_field", "@timestamp") appended as given.
func (v *VictoriaLogs) BulkNode(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	u := v.URL + "/insert/elasticsearch"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Flush makes everything ingested so far searchable.
func (v *VictoriaLogs) Flush(t testing.TB) {
	t.Helper()
	resp, err := http.Get(v.URL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("victoria-logs force_flush: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("victoria-logs force_flush: %s", resp.Status)
	}
}

// Query flushes, runs a LogsQL query (e.g. "*" or `type:="request"`) over all
// time and returns the rows, each as its fields.
func (v *VictoriaLogs) Query(t testing.TB, logsql string) []map[string]string {
	t.Helper()
	v.Flush(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	form := url.Values{"query": {logsql}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+"/select/logsql/query", bytes.NewBufferString(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("victoria-logs query %q: %v", logsql, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("victoria-logs query %q: %s: %s", logsql, resp.Status, body)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("victoria-logs query %q: row %q: %v", logsql, sc.Text(), err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("victoria-logs query %q: %v", logsql, err)
	}
	return rows
}

// CPUTime returns the user+system CPU time the server has used so far, read from
// /proc (Linux only; zero elsewhere).
func (v *VictoriaLogs) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", v.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}
