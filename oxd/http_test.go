package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// withHTTP turns --http on, on a free loopback port.
func withHTTP(o *options) {
	o.httpAddr = "127.0.0.1:0"
	o.httpSet = true
	o.metricsTypes = 20
}

// webURL is the base URL of a test oxd's HTTP server.
func (x *testOxd) webURL() string { return "http://" + x.d.web.Addr() }

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// parseMetrics reads the text format into series (name{labels} as written) -> value,
// and checks HELP and TYPE come once per family, before its samples.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			name := strings.Fields(line)[2]
			if typed[name] {
				t.Errorf("TYPE %s twice", name)
			}
			typed[name] = true
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		series := line[:i]
		name := series
		if j := strings.IndexByte(series, '{'); j >= 0 {
			name = series[:j]
		}
		if !typed[name] {
			t.Errorf("sample %s before its TYPE", series)
		}
		out[series] = v
	}
	return out
}

func (x *testOxd) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, x.webURL()+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return parseMetrics(t, body)
}

// sumSeries adds the samples of name whose labels contain every one of match.
func sumSeries(m map[string]float64, name string, match ...string) float64 {
	var s float64
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, want := range match {
			ok = ok && strings.Contains(k, want)
		}
		if ok {
			s += v
		}
	}
	return s
}

func TestPromTextFormat(t *testing.T) {
	p := newPromText()
	if !p.family("x_total", "counter", "Help with \\ and\nnewline.") {
		t.Fatal("first family refused")
	}
	p.sampleUint("x_total", 3, "zeta", "z", "alpha", "a\"b\\c\nd")
	p.sample("x_total", 1.5, "alpha", "\xff")
	if p.family("x_total", "counter", "again") {
		t.Fatal("a family was started twice")
	}
	p.one("y", "gauge", "y.", 0)
	want := "# HELP x_total Help with \\\\ and\\nnewline.\n# TYPE x_total counter\n" +
		"x_total{alpha=\"a\\\"b\\\\c\\nd\",zeta=\"z\"} 3\n" +
		"x_total{alpha=\"\uFFFD\"} 1.5\n" +
		"# HELP y y.\n# TYPE y gauge\ny 0\n"
	if got := string(p.b); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTypeSetKeepsEveryExportedTypeAndSumsTheRestAsOther(t *testing.T) {
	s := newTypeSet(2)
	c := func(n uint64) typeCount { return typeCount{events: n, bytes: 10 * n} }
	got := s.split(map[string]typeCount{"a": c(5)}, typeCount{})
	if len(got) != 2 || got[0].name != "a" || got[1].name != otherType || got[1].events != 0 {
		t.Fatalf("one type: %v", got)
	}
	// b and c arrive together: the busier one takes the last place.
	got = s.split(map[string]typeCount{"a": c(5), "b": c(1), "c": c(9)}, typeCount{events: 2})
	if len(got) != 3 || got[0].name != "a" || got[1].name != "c" || got[2].events != 1+2 {
		t.Fatalf("three types: %v", got)
	}
	// b gets busier than everyone: a and c keep their series, other keeps growing.
	got = s.split(map[string]typeCount{"a": c(5), "b": c(100), "c": c(9), "d": c(1)}, typeCount{events: 2})
	if got[0].name != "a" || got[1].name != "c" || got[2].events != 100+1+2 || got[2].bytes != 1000+10 {
		t.Fatalf("later: %v", got)
	}
}

// hostileMessages are the bad messages of TestHostileInputIsDroppedAndCountedWhileGoodEventsFlow,
// with the drop reason of each. maxEvent is the daemon's --max-event-bytes.
func hostileMessages(t *testing.T, maxEvent int) (msgs [][][]byte, reasons []string) {
	goodMeta, goodData := testEvent(t, "good", -1)
	meta := func(m ox.Meta) []byte {
		m.Host = "h"
		b, err := ox.AppendMeta(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	typed := func(typ string) []byte { return meta(ox.Meta{Type: typ}) }
	longName := append([]byte{}, goodMeta...)
	longName[73] = 64
	add := func(reason string, frames ...[]byte) {
		msgs = append(msgs, frames)
		reasons = append(reasons, reason)
	}
	add("frames", goodMeta)
	add("frames", goodMeta, goodData, goodData)
	add("meta_size", goodMeta[:10], goodData)
	add("meta_size", []byte{}, goodData)
	add("meta_size", append(append([]byte{}, goodMeta...), 0), goodData)
	add("meta_version", meta(ox.Meta{Version: 2, Type: "good"}), goodData)
	add("meta_name", longName, goodData)
	add("not_msgpack", goodMeta, []byte{0xc1, 0x00})
	add("truncated", goodMeta, []byte{})
	add("not_map", goodMeta, []byte{0x93, 1, 2, 3})
	add("not_map", goodMeta, []byte("\xa5hello"))
	add("truncated", goodMeta, goodData[:len(goodData)-5])
	add("trailing_bytes", goodMeta, append(append([]byte{}, goodData...), 0xc0))
	add("too_large", goodMeta, bytes.Repeat([]byte{0x80}, maxEvent+1))
	for _, typ := range []string{"../x", "/etc/x", "..", ".", "", "a\x00b", "a\nb", "a/../../b", `..\..\x`, ".hidden", "a\xffb"} {
		add("type_name", typed(typ), goodData)
	}
	return msgs, reasons
}

// sendProtocolAbuse opens three connections that break ZMTP: two after the handshake
// (a 2^62-byte frame, reserved flag bits), one with garbage for a greeting.
func sendProtocolAbuse(t *testing.T, addr string) map[string]int {
	for _, hdr := range [][]byte{
		append([]byte{0x02}, binary.BigEndian.AppendUint64(nil, 1<<62)...),
		{0xf0, 0x01, 0x00},
	} {
		nc, err := netDial(addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zmtp.Handshake(nc, "PUSH", 0); err != nil {
			t.Fatal(err)
		}
		nc.Write(hdr)
		nc.Close()
	}
	nc, err := netDial(addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte(strings.Repeat("garbage", 20)))
	nc.Close()
	return map[string]int{"protocol": 2, "handshake": 1}
}

// bigEvent is event n of type typ with a body of about size bytes.
func bigEvent(t *testing.T, typ string, n, size int) (meta, data []byte) {
	t.Helper()
	end := time.Now()
	data, err := ox.AppendRecord(nil, ox.Record{ID: "0123456789abcdef0123456789abcdef", Type: typ, Host: "h", PID: 1,
		Start: end, End: end, Body: map[string]any{"n": n, "pad": strings.Repeat("p", size)}})
	if err != nil {
		t.Fatal(err)
	}
	meta, err = ox.AppendMeta(nil, ox.Meta{End: ox.UnixFloat(end), Host: "h", Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

// TestAccountingIdentity sends good events, every hostile input, events while a
// subscriber is stuck, and events while the forward target is away, then checks
// /metrics against what the files on both sides hold: every message received is
// accepted or dropped with a reason, every accepted event is written and
// acknowledged by the target, and nothing a resend delivered is counted as dropped.
func TestAccountingIdentity(t *testing.T) {
	link := freeAddr(t)
	centralLogs := filepath.Join(t.TempDir(), "central")
	central := startCentral(t, func(o *options, d *daemon) { o.link = link; o.logPath = centralLogs })
	spool := filepath.Join(t.TempDir(), "spool")
	const maxEvent = 64 << 10
	edge := startOxd(t, func(o *options, d *daemon) {
		withHTTP(o)
		o.maxEventSize = maxEvent
		o.spoolPath, o.targets, o.forward = spool, []string{link}, link
		o.spoolMaxMB, o.failover = 256, 30*time.Second
	})

	// A subscriber that never reads.
	nc, err := netDial("127.0.0.1:" + itoa(edge.d.stream.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stuck, err := zmtp.Handshake(nc, "SUB", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stuck.WriteMsg([]byte{1})
	stuck.Flush()
	waitSubscribers(t, edge, 1)

	push := pusher(t, edge.collect)
	n := 0
	good := func(typ string, k, size int) {
		for range k {
			meta, data := bigEvent(t, typ, n, size)
			send(t, push, meta, data)
			n++
		}
	}
	good("request", 300, 100)
	msgs, reasons := hostileMessages(t, maxEvent)
	want := map[string]int{}
	for i, m := range msgs {
		send(t, push, m...)
		good("request.db", 1, 50)
		want[reasons[i]]++
	}
	for r, k := range sendProtocolAbuse(t, edge.collect) {
		want[r] += k
	}
	good("blast", 3000, 8000) // 24 MB: more than the stuck subscriber's queue
	edge.waitReceived(t, n)
	waitEvents(t, n, centralLogs)

	// The target goes away; events wait in the spool, and come back when it does.
	central.stop(t)
	good("outage", 2000, 200)
	edge.waitReceived(t, n)
	if fw := edge.status(t)["forward"].(map[string]any); asInt(fw["unacked"]) == 0 {
		t.Fatalf("nothing waits in the spool while the target is away: %v", fw)
	}
	startCentral(t, func(o *options, d *daemon) { o.link = link; o.logPath = centralLogs })
	got := waitEvents(t, n, centralLogs)
	if got.dups != 0 {
		t.Errorf("the target wrote %d events twice", got.dups)
	}
	deadline := time.Now().Add(20 * time.Second)
	for asInt(edge.status(t)["forward"].(map[string]any)["unacked"]) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the spool never drained")
		}
		time.Sleep(20 * time.Millisecond)
	}

	m := edge.metrics(t)
	bad := 0
	for _, k := range want {
		bad += k
	}
	written := 0
	for _, c := range readEvents(t, edge.logPath).seen {
		written += c
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"received = good + bad sent", m["oxd_events_received_total"], float64(n + bad)},
		{"accepted = good sent", m["oxd_events_accepted_total"], float64(n)},
		{"written = events in the files", m["oxd_events_written_total"], float64(written)},
		{"forwarded = events the target has", m["oxd_events_forwarded_total"], float64(len(got.seen))},
		{"received = accepted + input drops", m["oxd_events_received_total"], m["oxd_events_accepted_total"] + sumSeries(m, "oxd_events_dropped_total", `stage="input"`)},
		{"accepted = written + file drops", m["oxd_events_accepted_total"], m["oxd_events_written_total"] + sumSeries(m, "oxd_events_dropped_total", `stage="files"`)},
		{"accepted = forwarded + unacked + forward drops", m["oxd_events_accepted_total"],
			m["oxd_events_forwarded_total"] + m["oxd_spool_unacked_events"] + sumSeries(m, "oxd_events_dropped_total", `stage="forward"`)},
		{"nothing dropped at files or forward", sumSeries(m, "oxd_events_dropped_total", `stage="f`), 0},
		{"per-type events add up", sumSeries(m, "oxd_type_events_total"), float64(n)},
		{"outage type counted", m[`oxd_type_events_total{type="outage"}`], 2000},
	}
	for r, k := range want {
		checks = append(checks, struct {
			name      string
			got, want float64
		}{"dropped " + r, m[`oxd_events_dropped_total{reason="`+r+`",stage="input"}`], float64(k)})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if m["oxd_stream_events_dropped_total"] == 0 {
		t.Errorf("the stuck subscriber lost nothing")
	}
	if t.Failed() {
		_, body := httpGet(t, edge.webURL()+"/metrics")
		t.Logf("metrics:\n%s", body)
	}
}

func waitReady(t *testing.T, x *testOxd, wantCode int, wantText string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := httpGet(t, x.webURL()+"/readyz")
		if code == wantCode && strings.Contains(body, wantText) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q, want %d with %q", code, body, wantCode, wantText)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHealthzAndStatusJSON(t *testing.T) {
	x := startOxd(t, func(o *options, d *daemon) { withHTTP(o) })
	if code, body := httpGet(t, x.webURL()+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	waitReady(t, x, 200, "ready")
	meta, data := testEvent(t, "request", 1)
	send(t, pusher(t, x.collect), meta, data)
	x.waitReceived(t, 1)
	code, body := httpGet(t, x.webURL()+"/status")
	if code != 200 || !strings.Contains(body, `"received": 1`) || !strings.Contains(body, `"request"`) {
		t.Fatalf("/status: %d %s", code, body)
	}
	if code, _ := httpGet(t, x.webURL()+"/nothing"); code != 404 {
		t.Fatalf("/nothing: %d", code)
	}
	x.d.web.draining() // what a shutdown does once collection has stopped
	waitReady(t, x, 503, "not collecting")
	if code, _ := httpGet(t, x.webURL()+"/healthz"); code != 200 {
		t.Fatalf("/healthz while draining: %d", code)
	}
}

// TestReadyzWhenTheDiskFails puts a file where the day's folder goes, so every open
// of a log file fails as on a broken disk, then takes it away.
func TestReadyzWhenTheDiskFails(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	x := startOxd(t, func(o *options, d *daemon) { withHTTP(o); d.now = clock.Now })
	waitReady(t, x, 200, "ready")
	block := filepath.Join(x.logPath, "20261124")
	if err := os.WriteFile(block, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	push := pusher(t, x.collect)
	meta, data := testEvent(t, "request", 1)
	send(t, push, meta, data)
	waitReady(t, x, 503, "log file writes are failing")
	if m := x.metrics(t); m[`oxd_events_dropped_total{reason="write_error",stage="files"}`] != 1 || m["oxd_ready"] != 0 {
		t.Fatalf("metrics after a failed write: %v", m)
	}
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	send(t, push, meta, data)
	waitReady(t, x, 200, "ready")
	if m := x.metrics(t); m["oxd_events_written_total"] != 1 || m["oxd_events_accepted_total"] != 2 {
		t.Fatalf("metrics after recovery: %v", m)
	}
}

// TestReadyzWhenTheSpoolFills fills a 1 MiB spool past 90 % while its target is
// away, then starts the target and waits for the spool to drain.
func TestReadyzWhenTheSpoolFills(t *testing.T) {
	link := freeAddr(t)
	edge := startEdge(t, []string{link}, func(o *options, d *daemon) {
		withHTTP(o)
		o.spoolMaxMB = 1
		o.failover = time.Hour
	})
	waitReady(t, edge, 200, "ready")
	push := pusher(t, edge.collect)
	n := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		for range 40 {
			meta, data := bigEvent(t, "request", n, 200)
			send(t, push, meta, data)
			n++
		}
		edge.waitReceived(t, n)
		fw := edge.status(t)["forward"].(map[string]any)
		if float64(asInt(fw["spool_bytes"])) >= 0.92*float64(1<<20) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool never filled: %v", fw)
		}
	}
	waitReady(t, edge, 503, "spool at")
	startCentral(t, func(o *options, d *daemon) { o.link = link })
	waitReady(t, edge, 200, "ready")
}

// TestReadyzWhenNoTargetIsReachable: after --failover-after without a connection.
func TestReadyzWhenNoTargetIsReachable(t *testing.T) {
	link := freeAddr(t)
	edge := startEdge(t, []string{link}, func(o *options, d *daemon) {
		withHTTP(o)
		o.failover = 500 * time.Millisecond
	})
	waitReady(t, edge, 503, "no forward target reachable")
	startCentral(t, func(o *options, d *daemon) { o.link = link })
	waitReady(t, edge, 200, "ready")
}

func TestDefaultHTTPAddressTakenIsNotFatal(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	x := startOxd(t, func(o *options, d *daemon) { o.httpAddr = ln.Addr().String() })
	if x.d.web != nil {
		t.Fatal("oxd serves HTTP on a taken port")
	}
	if !strings.Contains(x.out.String(), "default address in use") {
		t.Fatal("no warning")
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func TestGivenHTTPAddressTakenIsFatal(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := options{control: "127.0.0.1:0", collect: "127.0.0.1:0", forwardMB: 1, maxEventSize: 1 << 20, maxConns: 8,
		httpAddr: ln.Addr().String(), httpSet: true}
	d, err := newDaemon(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = d.start()
	if err == nil || !strings.Contains(err.Error(), "oxd: http on") {
		t.Fatalf("start with a taken --http: %v", err)
	}
}

func TestHTTPOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		addr     string
		set      bool
		types    int
		usageErr bool
	}{
		{"default on loopback", nil, DefaultHTTP, false, 20, false},
		{"given", []string{"--http", "127.0.0.1:9000"}, "127.0.0.1:9000", true, 20, false},
		{"empty turns it off", []string{"--http="}, "", true, 20, false},
		{"types", []string{"--metrics-types", "5"}, DefaultHTTP, false, 5, false},
		{"types zero", []string{"--metrics-types", "0"}, "", false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, io.Discard)
			if tc.usageErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.httpAddr != tc.addr || o.httpSet != tc.set || o.metricsTypes != tc.types {
				t.Fatalf("got %q %v %d", o.httpAddr, o.httpSet, o.metricsTypes)
			}
		})
	}
}

// TestAccountingIdentityWithPlainForwarding: a plain PUSH target goes away while more
// than --forward-queue-mb arrives; the events past the queue are dropped with a
// reason, the rest are sent when the target is back, and every accepted event is
// counted once.
func TestAccountingIdentityWithPlainForwarding(t *testing.T) {
	target := freeAddr(t)
	central := startOxd(t, func(o *options, d *daemon) { o.collect = target; o.logPath = "" })
	edge := startOxd(t, func(o *options, d *daemon) { withHTTP(o); o.forward = target; o.forwardMB = 1 })
	push := pusher(t, edge.collect)
	n := 0
	good := func(k, size int) {
		for range k {
			meta, data := bigEvent(t, "request", n, size)
			send(t, push, meta, data)
			n++
		}
	}
	good(500, 100)
	central.waitReceived(t, 500)
	central.stop(t)
	good(3000, 1000) // 3 MB for a 1 MiB queue
	edge.waitReceived(t, n)
	central2 := startOxd(t, func(o *options, d *daemon) { o.collect = target; o.logPath = "" })
	deadline := time.Now().Add(30 * time.Second)
	for {
		fw := edge.status(t)["forward"].(map[string]any)
		if asInt(fw["queued"]) == 0 && fw["connected"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue never drained: %v", fw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := edge.metrics(t)
	fwdDrops := sumSeries(m, "oxd_events_dropped_total", `stage="forward"`)
	if m["oxd_events_accepted_total"] != float64(n) ||
		m["oxd_events_accepted_total"] != m["oxd_events_forwarded_total"]+m["oxd_forward_queued_events"]+fwdDrops {
		t.Errorf("accepted %v = forwarded %v + queued %v + dropped %v does not hold (sent %d)", m["oxd_events_accepted_total"],
			m["oxd_events_forwarded_total"], m["oxd_forward_queued_events"], fwdDrops, n)
	}
	if m[`oxd_events_dropped_total{reason="queue_full",stage="forward"}`] == 0 {
		t.Errorf("nothing dropped past a 1 MiB queue")
	}
	// What the targets got: everything counted as forwarded, less what was in
	// flight when the first one went away (plain PUSH has no acknowledgement).
	got := asInt(central2.waitReceived(t, 1)["received"]) + 500
	deadline = time.Now().Add(10 * time.Second)
	for float64(got) < m["oxd_events_forwarded_total"] && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = asInt(central2.status(t)["received"]) + 500
	}
	if float64(got) > m["oxd_events_forwarded_total"] {
		t.Errorf("targets received %d, more than the %v counted as forwarded", got, m["oxd_events_forwarded_total"])
	}
	t.Logf("accepted %d, forwarded %v, dropped %v, targets received %d", n, m["oxd_events_forwarded_total"], fwdDrops, got)
}
