//go:build load

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox/esbulk/esbulktest"
)

// TestLoad ships OXSTASH_LOAD events (e.g. 100000) from a file into VictoriaLogs
// with the built command and reports throughput, oxstash's CPU time and peak
// memory, and the store's CPU time. It is a measurement, not part of the
// default run, so it builds only with the "load" tag:
//
//	OXSTASH_LOAD=100000 go test -tags load -run TestLoad -v -count=1 ./oxstash/
//
// OXSTASH_LOAD_RUNS (default 3) sets the repetitions (a fresh store each);
// figures are printed per run and as medians.
func TestLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OXSTASH_LOAD"))
	if n <= 0 {
		t.Fatal("set OXSTASH_LOAD=<events> to measure")
	}
	runs, _ := strconv.Atoi(os.Getenv("OXSTASH_LOAD_RUNS"))
	if runs <= 0 {
		runs = 3
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "load.log")
	data := loadEvents(t, n)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := buildCommand(t, "oxstash")
	var rates, oxCPU, vlCPU, vlSettled, rss []float64
	for run := range runs {
		vl := esbulktest.StartVictoriaLogs(t)
		cpu0 := vl.CPUTime()
		cmd := exec.Command(bin, "-e", vl.BulkNode("_time_field", "@timestamp", "_stream_fields", "type,host"),
			"-d", filepath.Join(dir, "dead"), file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The kernel's peak RSS for a child counts the parent's pages from before
		// exec; the child's own high-water mark is in /proc while it runs.
		peak := make(chan float64, 1)
		stop := make(chan struct{})
		go func() {
			hwm := 0.0
			for {
				if v := vmHWM(cmd.Process.Pid); v > 0 {
					hwm = v
				}
				select {
				case <-stop:
					peak <- hwm
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		err := cmd.Wait()
		wall := time.Since(began)
		close(stop)
		if err != nil {
			t.Fatalf("oxstash: %v\n%s", err, stderr.String())
		}
		vl.Flush(t)
		storeCPU := vl.CPUTime() - cpu0
		time.Sleep(3 * time.Second) // background merges of what was ingested
		storeSettled := vl.CPUTime() - cpu0
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rows := vl.Query(t, "* | stats count() as n")
		if len(rows) != 1 || rows[0]["n"] != strconv.Itoa(n) {
			t.Fatalf("store holds %v rows, want %d", rows, n)
		}
		rates = append(rates, float64(n)/wall.Seconds())
		oxCPU = append(oxCPU, cpu.Seconds())
		vlCPU = append(vlCPU, storeCPU.Seconds())
		vlSettled = append(vlSettled, storeSettled.Seconds())
		rss = append(rss, <-peak)
		t.Logf("run %d: %d events (%.1f MiB) in %v: %.0f docs/s; oxstash CPU %.2fs, peak RSS %.1f MiB; VictoriaLogs CPU %.2fs (%.2fs 3 s later)",
			run+1, n, float64(len(data))/(1<<20), wall.Round(time.Millisecond), rates[run], oxCPU[run], rss[run], vlCPU[run], vlSettled[run])
		t.Logf("  oxstash: %s", bytes.TrimSpace(stderr.Bytes()))
	}
	t.Logf("median of %d: %.0f docs/s; oxstash CPU %.2fs (%.1f µs/event), peak RSS %.1f MiB; VictoriaLogs CPU %.2fs (%.2fs 3 s later); oxstash/store CPU %.2f (%.2f)",
		runs, median(rates), median(oxCPU), median(oxCPU)/float64(n)*1e6, median(rss), median(vlCPU), median(vlSettled),
		median(oxCPU)/median(vlCPU), median(oxCPU)/median(vlSettled))
}

// vmHWM returns a process's peak resident memory in MiB so far (0 if unknown).
func vmHWM(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
