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
	code := exitCode(err, os.Stderr)
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

// BenchmarkUpload300MB uploads one 300 MB compressed log file to MinIO with
// `oxstore upload` in a child process, and reports the throughput and the
// child's peak RSS. Run it on its own:
//
//	go test -run '^$' -bench Upload300MB -benchtime 1x -count 5 ./oxstore/
func BenchmarkUpload300MB(b *testing.B) {
	const size = 300_000_000
	h := newHarness(b, true)
	h.writeLog("request-20261120.log.gz", nil, now.Add(-48*time.Hour))
	file := filepath.Join(h.logPath, "20261120", "request-20261120.log.gz")
	writeRandomFile(b, file, size)
	b.SetBytes(size)
	b.ResetTimer()
	var peak int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		bucket := h.newBucket("bench-")
		b.StartTimer()
		cmd := exec.Command(os.Args[0])
		env := os.Environ()
		for k, v := range h.env {
			env = append(env, k+"="+v)
		}
		cmd.Env = append(env, "BLUEOX_BUCKET="+bucket, "OXSTORE_AS_MAIN=1",
			"OXSTORE_ARGS="+strings.Join([]string{"upload"}, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("upload: %v\n%s", err, stderr.String())
		}
		b.StopTimer()
		for _, line := range strings.Split(stderr.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "peak-rss-kib "); ok {
				kib, _ := strconv.ParseInt(v, 10, 64)
				peak = max(peak, kib)
			}
		}
		info, err := h.client().HeadObject(context.Background(), bucket, "20261120/request-20261120-web1.log.gz")
		if err != nil || info.Size != size {
			b.Fatalf("object after upload: %+v %v", info, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}
