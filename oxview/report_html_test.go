package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
)

// writeReport writes the report of the generated set (plus hostile names) to a
// temporary file and returns its path and text.
func writeReport(t *testing.T, withHostile bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "gen.log")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeGen(f, genSet(5000, 2)); err != nil {
		t.Fatal(err)
	}
	// Names and values from the network that must not become markup.
	hostile, _ := ox.AppendValue(nil, map[string]any{"id": "h1", "type": `<script>alert("t")</script>`,
		"host": `<img src=x onerror=alert(1)>`, "start": 1795515000.0, "end": 1795515000.25,
		"body": map[string]any{"path": `</code><style>@import 'x';</style>`, "exception": "<b>boom</b> & \x00\x1b[31m"}})
	if withHostile {
		f.Write(hostile)
	}
	f.Close()
	out := filepath.Join(dir, "report.html")
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"--report", out, "--by", "path", "--by", "request:response.status_code", in},
		strings.NewReader(""), io.Discard, &stderr); err != nil {
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, string(b)
}

func TestReportIsSelfContained(t *testing.T) {
	_, page := writeReport(t, false)
	low := strings.ToLower(page)
	for _, bad := range []string{"http:", "https:", "src=", "href=", "url(", "@import", "<script", "<img", "<iframe", "<link", "<object", "javascript:"} {
		if i := strings.Index(low, bad); i >= 0 {
			t.Errorf("report holds %q: …%s…", bad, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	for _, want := range []string{"<svg", "Events over time", "Where the time goes", "request.httpclient", "/hello/{name}"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(page, `<meta name="viewport"`) {
		t.Error("no viewport meta: not readable on a phone")
	}
}

func TestReportEscapesWhatEventsSay(t *testing.T) {
	_, page := writeReport(t, true)
	// Every tag in the page is the report's own: none with a source, a link or
	// a handler, however the names and values were written.
	for _, tag := range regexp.MustCompile(`<[a-zA-Z][^>]*>`).FindAllString(page, -1) {
		low := strings.ToLower(tag)
		if strings.Contains(low, "src=") || strings.Contains(low, "href=") || strings.Contains(low, " on") ||
			strings.HasPrefix(low, "<script") || strings.HasPrefix(low, "<img") {
			t.Errorf("tag from event data: %s", tag)
		}
	}
	if n := strings.Count(strings.ToLower(page), "<style"); n != 1 {
		t.Errorf("%d style elements, want the report's own only", n)
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;",
		"&lt;/code&gt;&lt;style&gt;", "&lt;b&gt;boom&lt;/b&gt; &amp;"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.ContainsAny(page, "\x00\x1b") {
		t.Error("control characters reach the page")
	}
}

// chromium returns Debian's chromium, or skips (fails under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Skip(t, "chromium not installed (.ci/deps.d/report.sh installs it)")
	return ""
}

// screenshot opens the page in headless chromium and returns the picture.
func screenshot(t *testing.T, browser, page string, width, height int) image.Image {
	t.Helper()
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot,
		"--window-size="+itoa(width)+","+itoa(height), "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot does not decode: %v", err)
	}
	if name := os.Getenv("OXVIEW_KEEP_SCREENSHOT"); name != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(name, b, 0o644)
	}
	return img
}

// inked counts the pixels of r that are not the page or card background, and
// the distinct colours among them.
func inked(img image.Image, r image.Rectangle) (n int, colours int) {
	seen := map[color.RGBA]bool{}
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if c == (color.RGBA{0xf5, 0xf6, 0xf8, 0xff}) || c == (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
				continue
			}
			n++
			seen[c] = true
		}
	}
	return n, len(seen)
}

// hasColour reports how many pixels of img are exactly c.
func hasColour(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == c {
				n++
			}
		}
	}
	return n
}

func TestReportDrawsInAHeadlessBrowser(t *testing.T) {
	browser := chromium(t)
	page, _ := writeReport(t, false)
	cases := []struct {
		name          string
		width, height int
	}{
		{"desktop", 1200, 2400},
		{"phone", 390, 2400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := screenshot(t, browser, page, tc.width, tc.height)
			if b := img.Bounds(); b.Dx() < tc.width/2 || b.Dy() < tc.height/2 {
				t.Fatalf("screenshot is %v", b)
			}
			// The top holds the headline and the events-over-time chart.
			n, colours := inked(img, image.Rect(0, 0, tc.width, 900))
			if total := tc.width * 900; n < total/50 || colours < 20 {
				t.Errorf("top of the page nearly blank: %d inked pixels of %d, %d colours", n, total, colours)
			}
			// The charts' solid fills: bars of the first series and the error bars.
			if got := hasColour(img, color.RGBA{0x4f, 0x46, 0xe5, 0xff}); got < 500 {
				t.Errorf("%d pixels of the first chart colour; charts not drawn", got)
			}
			if got := hasColour(img, color.RGBA{0xdc, 0x26, 0x26, 0xff}); got < 100 {
				t.Errorf("%d pixels of the error colour", got)
			}
		})
	}
}

func TestLiveReportStopsAfterFor(t *testing.T) {
	c := oxdtest.StartStandIn(t)
	var out, errOut testenv.SyncBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(context.Background(), []string{"-H", c.Control, "--for", "2s", "--summary", "--json", "--by", "level"},
			strings.NewReader(""), &out, &errOut)
	}()
	frames := testenv.WireFrames(t)
	var err error
loop:
	for i := 0; ; i++ {
		select {
		case err = <-done:
			break loop
		case <-time.After(20 * time.Millisecond):
		}
		if i > 1000 {
			t.Fatal("--for 2s did not end the read")
		}
		f := frames[i%len(frames)]
		send(t, c, [2][]byte{f.Meta, f.Data})
		if i%10 == 5 {
			c.Publish(t, "request", []byte{0xc1}) // not an event
		}
	}
	if took := time.Since(start); took < 2*time.Second || took > 30*time.Second {
		t.Errorf("the read took %v, want about 2s", took)
	}
	var r result
	if jerr := json.Unmarshal([]byte(out.String()), &r); jerr != nil {
		t.Fatalf("not the JSON summary: %v (run: %v, stderr %q)", jerr, err, errOut.String())
	}
	if r.Events == 0 || len(r.Types) < 3 || !strings.HasPrefix(r.Inputs[0], "live stream of ") {
		t.Errorf("events %d, types %d, inputs %v", r.Events, len(r.Types), r.Inputs)
	}
	if r.Skipped.Count == 0 || err == nil || !strings.Contains(err.Error(), "damaged input") {
		t.Errorf("undecodable events not counted as skipped: %+v, run %v", r.Skipped, err)
	}
}

// parseDur reads a duration as the report writes it ("20.0 ms", "360 µs").
func parseDur(t *testing.T, s string) float64 {
	t.Helper()
	if s == "0" {
		return 0
	}
	var v float64
	var unit string
	if _, err := fmt.Sscanf(s, "%g %s", &v, &unit); err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	scale := map[string]float64{"µs": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
	if scale == 0 {
		t.Fatalf("duration %q: unknown unit", s)
	}
	return v * scale
}

// The types table of the page says what the events say: counts exactly,
// percentiles within the stated error plus the rounding to three digits.
func TestReportNumbersAgreeWithTheEvents(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen.log")
	f, _ := os.Create(gen)
	writeGen(f, genSet(3000, 5))
	f.Close()
	daily, _ := filepath.Glob(testenv.Fixture(t, "logs-daily/20261124") + "/*.log")
	for _, files := range [][]string{daily, {gen}} {
		out := filepath.Join(dir, "r.html")
		if err := run(context.Background(), append([]string{"--report", out}, files...), strings.NewReader(""), io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		page, _ := os.ReadFile(out)
		e := expect(decodeAll(t, files...))
		row := regexp.MustCompile(`<tr><td class="v"><code>([^<]*)</code></td><td class="n">([0-9,]+)</td><td class="bar">.*?</td>` +
			`<td class="n">([0-9,]+)</td><td class="n">([^<]+)</td><td class="n">([^<]+)</td><td class="n">([^<]+)</td><td class="n">([^<]+)</td></tr>`)
		rows := row.FindAllStringSubmatch(string(page), -1)
		if len(rows) != len(e.count) {
			t.Fatalf("%d type rows, want %d", len(rows), len(e.count))
		}
		for _, m := range rows {
			typ := m[1]
			if m[2] != fmtCount(uint64(e.count[typ])) || m[3] != fmtCount(uint64(e.errByType[typ])) {
				t.Errorf("%s: count %s errors %s, want %d and %d", typ, m[2], m[3], e.count[typ], e.errByType[typ])
			}
			d := slices.Clone(e.durs[typ])
			slices.Sort(d)
			for i, q := range []float64{0.5, 0.9, 0.99, 1} {
				got, want := parseDur(t, m[4+i]), nearestRank(d, q)
				if math.Abs(got-want) > (histAlpha+0.006)*want+1e-9 {
					t.Errorf("%s: column %d says %s, want %g", typ, i, m[4+i], want)
				}
			}
		}
		for sub, sec := range e.subSec {
			parent, _, _ := strings.Cut(sub, ".")
			want := fmt.Sprintf("<code>%s</code></td><td class=\"n\">%s</td>", sub, fmtCount(uint64(e.subEvents[sub])))
			if !strings.Contains(string(page), want) || !strings.Contains(string(page), ">"+fmtPct(sec/e.parentSec[parent])+"<") {
				t.Errorf("%s: no row with %d events and share %s", sub, e.subEvents[sub], fmtPct(sec/e.parentSec[parent]))
			}
		}
	}
}
