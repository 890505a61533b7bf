package ox

import (
	"bytes"
	"encoding/json"
	"expvar"
	"os/exec"
	"strings"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

func TestPublishExpvar(t *testing.T) {
	name := "ox-test-" + t.Name()
	if err := PublishExpvar(name); err != nil {
		t.Fatal(err)
	}
	if err := PublishExpvar(name); err != nil {
		t.Fatalf("again: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, expvar.Get(name))
	}
	for _, k := range []string{"queued", "sent", "dropped", "lost", "errors", "invalid_names", "connected"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %v", k, got)
		}
	}
	before := got["invalid_names"].(float64)
	SetRecorder(func(Record) {})
	defer SetRecorder(nil)
	if _, ev := Start(t.Context(), "a/b"); ev != nil {
		ev.Done()
	}
	json.Unmarshal([]byte(expvar.Get(name).String()), &got)
	if got["invalid_names"].(float64) != before+1 {
		t.Errorf("invalid_names did not count: %v", got)
	}
	expvar.NewInt(name + "-other")
	if err := PublishExpvar(name + "-other"); err == nil {
		t.Error("a name held by another variable was taken")
	}
}

func TestWriteMetricsPassesPromtool(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nox_events_dropped_total ", "\nox_events_sent_total ", "# TYPE ox_events_queued gauge\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	promtool := testenv.Binary(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
