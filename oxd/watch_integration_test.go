package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
	"github.com/go-zeromq/zmq4"
)

// TestPrometheusScrapesOxd runs a real Prometheus server against oxd: the query
// through its HTTP API returns the events the test sent, promtool finds the scraped
// text clean, and the rules file under docs/ passes promtool check rules.
func TestPrometheusScrapesOxd(t *testing.T) {
	prom := testenv.Binary(t, "prometheus")
	promtool := testenv.Binary(t, "promtool")
	x := startOxd(t, func(o *options, d *daemon) { withHTTP(o) })
	push := pusher(t, x.collect)
	const n = 1234
	for i := range n {
		meta, data := testEvent(t, []string{"request", "request.db", "worker"}[i%3], i)
		send(t, push, meta, data)
	}
	x.waitReceived(t, n)

	_, body := httpGet(t, x.webURL()+"/metrics")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	rules := filepath.Join(testenv.ModuleRoot(t), "docs", "prometheus-rules.yml")
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: oxd
    static_configs:
      - targets: [%q]
`, rules, x.d.web.Addr())), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})

	query := func(q string) (float64, bool) {
		code, body := httpGetQuiet("http://" + listen + "/api/v1/query?query=" + url.QueryEscape(q))
		if code != 200 {
			return 0, false
		}
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, ok := query(`oxd_events_received_total{job="oxd"}`)
		if ok && v == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus says oxd_events_received_total = %v (%v), want %d", v, ok, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, ok := query(`sum(oxd_type_events_total{job="oxd"})`); !ok || v != n {
		t.Errorf("sum of oxd_type_events_total = %v, want %d", v, n)
	}
	if v, ok := query(`oxd_type_events_total{type="worker"}`); !ok || v != n/3 {
		t.Errorf("worker events = %v, want %d", v, n/3)
	}
	if v, ok := query(`up{job="oxd"}`); !ok || v != 1 {
		t.Errorf("up = %v", v)
	}
}

func httpGetQuiet(u string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// chromium runs headless Debian chromium with args and returns its stdout.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// TestLivePageInABrowser loads / in headless chromium while events of two types
// flow at up to 100 and 20 a second: after the page has fetched its data, the DOM
// names both types with rates in the mix they were sent in. The screenshot, at a phone's width, is kept in
// $OX_TEST_ARTIFACTS (or the test's temporary directory).
func TestLivePageInABrowser(t *testing.T) {
	bin := testenv.Binary(t, "chromium")
	x := startOxd(t, func(o *options, d *daemon) { withHTTP(o) })
	push := pusher(t, x.collect)
	stop := make(chan struct{})
	var sent atomic.Int64
	done := make(chan struct{})
	cm, cd := testEvent(t, "checkout", 1)
	sm, sd := testEvent(t, "search", 2)
	go func() { // about 100 "checkout" and 20 "search" events a second
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if push.Send(zmq4.NewMsgFrom(cm, cd)) != nil {
				return
			}
			if i%5 == 0 {
				if push.Send(zmq4.NewMsgFrom(sm, sd)) != nil {
					return
				}
			}
			sent.Add(1)
		}
	}()
	defer func() { close(stop); <-done }()
	// Let a few one-second samples accumulate.
	deadline := time.Now().Add(30 * time.Second)
	for {
		x.d.web.mu.Lock()
		k := len(x.d.web.ring)
		x.d.web.mu.Unlock()
		if k >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no samples")
		}
		time.Sleep(100 * time.Millisecond)
	}
	dom := chromium(t, bin, "--virtual-time-budget=3000", "--dump-dom", x.webURL()+"/")
	// The sender's pace depends on the machine's load; the 5:1 mix does not.
	rates := map[string]float64{}
	for _, typ := range []string{"checkout", "search"} {
		m := regexp.MustCompile(`<tr><td>` + typ + `</td><td class="n ">([0-9.,]+)</td></tr>`).FindStringSubmatch(dom)
		if m == nil {
			t.Errorf("the page shows no rate for %s", typ)
			continue
		}
		rates[typ], _ = strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
	}
	if c, s := rates["checkout"], rates["search"]; c <= 0 || c > 150 || s > 40 || (s >= 3 && (c/s < 2.5 || c/s > 10)) {
		t.Errorf("rates on the page: checkout %v, search %v events/s; sent at most 100 and 20, 5:1", c, s)
	}
	if !strings.Contains(dom, "<polyline") || !strings.Contains(dom, `class="ok">ready`) {
		t.Errorf("no chart or not ready on the page")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
	dir := os.Getenv("OX_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot, _ := filepath.Abs(filepath.Join(dir, "oxd-live-page.png"))
	chromium(t, bin, "--virtual-time-budget=3000", "--window-size=412,1400", "--hide-scrollbars", "--screenshot="+shot, x.webURL()+"/")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
}
