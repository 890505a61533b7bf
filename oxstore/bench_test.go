package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mainForMeasurement runs oxstore as the process itself (the test binary
// re-executed with OXSTORE_AS_MAIN=1 and the arguments in OXSTORE_ARGS,
// separated by newlines), then reports its peak RSS on stderr, so a benchmark
// can measure oxstore's memory apart from the test's.
func mainForMeasurement() int {
	args := strings.Split(os.Getenv("OXSTORE_ARGS"), "\n")
	err := run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr)
	code := program.ExitCode(err, os.Stderr)
	if hwm, err := peakRSSKiB(); err == nil {
		fmt.Fprintf(os.Stderr, "peak-rss-kib %d\n", hwm)
	}
	return code
}

// peakRSSKiB reads VmHWM, the process's peak resident set, from /proc.
func peakRSSKiB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// writeRandomFile writes size bytes that do not compress, like a .gz file.
func writeRandomFile(tb testing.TB, path string, size int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.Copy(f, io.LimitReader(r, size)); err != nil {
		tb.Fatal(err)
	}
}

// runChild runs oxstore with args in a child process (see mainForMeasurement)
// with the harness's environment plus extra, and returns its peak RSS in KiB.
func runChild(b *testing.B, h *harness, stdout io.Writer, extra []string, args ...string) int64 {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	env := os.Environ()
	for k, v := range h.env {
		env = append(env, k+"="+v)
	}
	cmd.Env = append(append(env, extra...), "OXSTORE_AS_MAIN=1", "OXSTORE_ARGS="+strings.Join(args, "\n"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("oxstore %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	childCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	for _, line := range strings.Split(stderr.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "peak-rss-kib "); ok {
			kib, _ := strconv.ParseInt(v, 10, 64)
			return kib
		}
	}
	b.Fatalf("no peak RSS reported:\n%s", stderr.String())
	return 0
}

const benchSize = 300_000_000

// benchFile writes a 300 MB log file (random bytes, like compressed data) dated
// 2026-11-20 and idle for two days, and returns the harness.
func benchFile(b *testing.B) *harness {
	h := newHarness(b, true)
	h.writeLog("request-20261120.log.gz", nil, now)
	file := filepath.Join(h.logPath, "20261120", "request-20261120.log.gz")
	writeRandomFile(b, file, benchSize)
	old := time.Now().Add(-48 * time.Hour) // the child runs on the real clock
	os.Chtimes(file, old, old)
	return h
}

// BenchmarkUpload300MB uploads one 300 MB compressed log file to MinIO with
// `oxstore upload` in a child process, and reports the throughput and the
// child's peak RSS. Run it on its own:
//
//	go test -run '^$' -bench 300MB -benchtime 1x -count 5 ./oxstore/
func BenchmarkUpload300MB(b *testing.B) {
	h := benchFile(b)
	host, _ := os.Hostname() // the child names the key after the real host
	key := "20261120/request-20261120-" + host + ".log.gz"
	b.SetBytes(benchSize)
	b.ResetTimer()
	var peak int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		bucket := h.newBucket("bench-")
		b.StartTimer()
		peak = max(peak, runChild(b, h, nil, []string{"BLUEOX_BUCKET=" + bucket}, "upload"))
		b.StopTimer()
		info, err := h.client().HeadObject(context.Background(), bucket, key)
		if err != nil || info.Size != benchSize {
			b.Fatalf("object after upload: %+v %v", info, err)
		}
		h.client().DeleteObject(context.Background(), bucket, key) // keep MinIO's disk use flat
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// BenchmarkCatFromBucket300MB streams the same file back with `oxstore cat`
// from the bucket, and reports throughput and the child's peak RSS.
func BenchmarkCatFromBucket300MB(b *testing.B) {
	h := benchFile(b)
	h.mustRun("upload")
	b.SetBytes(benchSize)
	b.ResetTimer()
	var peak int64
	for i := 0; i < b.N; i++ {
		var n countWriter
		peak = max(peak, runChild(b, h, &n, nil, "cat", "request", "--start", "20261120"))
		if n != benchSize {
			b.Fatalf("cat wrote %d bytes, want %d", n, benchSize)
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
