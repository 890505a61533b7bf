package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
	"github.com/blueox/ox/internal/testenv"
	"github.com/blueox/ox/oxd/internal/zmtp"
)

// BenchmarkForwarding measures events per second through a forwarding oxd to a
// central oxd writing files, all real processes: plain PUSH forwarding, and the
// spool with the acknowledged link (with and without deflate). Every mode has its
// own pair of processes, started once; each round sends benchEvents pre-encoded
// events through each mode in turn, timed from the first byte sent until the
// central's STATUS counts them all, so the modes share the machine's noise. It
// reports the median rate of each mode and the ratios to plain forwarding.
//
//	go test -run '^$' -bench Forwarding -benchtime 10x ./oxd/
//
// OXD_BENCH_ONLY=plain|spool|deflate runs a single mode.
func BenchmarkForwarding(b *testing.B) {
	bin := oxdtest.Binary(b)
	evs := benchFrames(b)
	type mode struct {
		name      string
		edgeArgs  func(dir, central, link string) []string
		link      bool
		push      *zmtp.Conn
		centralCt string
		edgeCt    string
		total     int64
		rates     []float64
	}
	modes := []*mode{
		{name: "plain", edgeArgs: func(dir, central, link string) []string {
			return []string{"-r", central, "--forward-queue-mb", "1024"}
		}},
		{name: "spool", link: true, edgeArgs: func(dir, central, link string) []string {
			return []string{"--spool-path", filepath.Join(dir, "spool"), "-r", link}
		}},
		{name: "deflate", link: true, edgeArgs: func(dir, central, link string) []string {
			return []string{"--spool-path", filepath.Join(dir, "spool"), "-r", link, "--forward-compress"}
		}},
	}
	if only := os.Getenv("OXD_BENCH_ONLY"); only != "" {
		var keep []*mode
		for _, m := range modes {
			if m.name == only {
				keep = append(keep, m)
			}
		}
		modes = keep
	}
	for _, m := range modes {
		dir := b.TempDir()
		centralCollect, link, edgeCollect := benchAddr(b), benchAddr(b), benchAddr(b)
		cargs := []string{"-c", centralCollect, "-l", filepath.Join(dir, "logs")}
		if m.link {
			cargs = append(cargs, "--link", link)
		}
		m.centralCt = benchProc(b, bin, cargs...)
		m.edgeCt = benchProc(b, bin, append([]string{"-c", edgeCollect}, m.edgeArgs(dir, centralCollect, link)...)...)
		nc, err := net.Dial("tcp", edgeCollect)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		if m.push, err = zmtp.Handshake(nc, "PUSH", 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		for _, m := range modes {
			start := time.Now()
			for i, ev := range evs {
				m.push.WriteMsg(ev[0], ev[1])
				if i%256 == 255 {
					if err := m.push.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := m.push.Flush(); err != nil {
				b.Fatal(err)
			}
			m.total += int64(len(evs))
			benchWaitReceived(b, m.centralCt, m.total)
			m.rates = append(m.rates, float64(len(evs))/time.Since(start).Seconds())
		}
	}
	b.StopTimer()
	med := map[string]float64{}
	for _, m := range modes {
		med[m.name] = median(m.rates)
		b.ReportMetric(med[m.name], m.name+"-events/s")
		b.Logf("%-8s median %8.0f events/s, runs %.0f", m.name, med[m.name], m.rates)
		if m.link {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := ox.Status(ctx, m.edgeCt)
			cancel()
			if fwd, ok := st["forward"].(map[string]any); err == nil && ok {
				b.Logf("%-8s link bytes %v raw, %v sent, saving %.3f", m.name, fwd["bytes_raw"], fwd["bytes_sent"], fwd["compression_saving"])
			}
		}
	}
	b.ReportMetric(med["spool"]/med["plain"], "spool/plain")
	b.ReportMetric(med["deflate"]/med["plain"], "deflate/plain")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

const benchEvents = 100000

// benchFrames pre-encodes events of a typical size (about 290 bytes with the meta
// frame) spread over four types.
func benchFrames(b *testing.B) [][2][]byte {
	end := time.Now()
	out := make([][2][]byte, benchEvents)
	types := []string{"request", "request.db", "request.cache", "worker"}
	for i := range out {
		r := ox.Record{ID: fmt.Sprintf("%032x", i), Type: types[i%4], Host: "web1", PID: 4242, Start: end, End: end,
			Body: map[string]any{"n": i, "path": "/api/v1/items", "status": 200, "user": "u" + strings.Repeat("x", i%20)}}
		data, err := ox.AppendRecord(nil, r)
		if err != nil {
			b.Fatal(err)
		}
		meta, _ := ox.AppendMeta(nil, r.Meta())
		out[i] = [2][]byte{meta, data}
	}
	return out
}

func benchAddr(b *testing.B) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b)) }

// benchProc starts oxd and returns its control address once it answers; it is
// stopped with SIGTERM when the benchmark ends.
func benchProc(b *testing.B, bin string, args ...string) string {
	b.Helper()
	control := benchAddr(b)
	cmd := exec.Command(bin, append([]string{"-t", control, "--stream-port", fmt.Sprint(testenv.FreePort(b))}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := ox.Status(ctx, control)
		cancel()
		if err == nil {
			return control
		}
		if time.Now().After(deadline) {
			b.Fatalf("oxd %v does not answer: %v\n%s", args, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func benchWaitReceived(b *testing.B, control string, n int64) {
	b.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := ox.Status(ctx, control)
		cancel()
		if err == nil && asInt(st["received"]) >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("central received %d of %d (%v)", asInt(st["received"]), n, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
