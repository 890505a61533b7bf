// Command oxload measures oxd's collection throughput: a separate sender process
// blasts pre-encoded events over one PUSH connection; the run ends when every event
// is on disk under oxd's log path, with one stream subscriber attached (unless
// -sub=false). The same blast into a bare libzmq PULL socket (pyzmq), a bare zmq4
// PULL socket, and a program that copies the connection's bytes to a file with
// no parsing ("copy": the ceiling for anything that stores what it receives)
// gives the ceilings. It reports medians of several runs, oxd's peak RSS (VmHWM) and CPU
// time and, with -cpuprofile, a CPU profile of oxd.
//
//	go build -o /tmp/oxd ./oxd && go run ./oxd/internal/oxload -oxd /tmp/oxd
//
// It is a measuring tool, not an installed command.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/oxd/internal/zmtp"
	"github.com/go-zeromq/zmq4"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "send":
			check(send(os.Args[2:]))
			return
		case "zmq4pull":
			check(zmq4Pull(os.Args[2:]))
			return
		case "copyto":
			check(copyTo(os.Args[2:]))
			return
		}
	}
	check(bench(os.Args[1:]))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "oxload:", err)
		os.Exit(1)
	}
}

// events returns k pre-encoded events of about size bytes, over four types.
func events(k, size int) (metas, datas [][]byte) {
	types := []string{"request", "request.db", "request.cache", "request.log"}
	end := time.Now()
	for i := range k {
		typ := types[i%len(types)]
		r := ox.Record{ID: fmt.Sprintf("%032x", i), Type: typ, Host: "loadhost", PID: 4242,
			Start: end.Add(-time.Millisecond), End: end,
			Body: map[string]any{"path": "/api/v1/things/" + strconv.Itoa(i), "status": 200, "n": i}}
		base, _ := ox.AppendRecord(nil, r)
		if pad := size - len(base) - 12; pad > 0 {
			r.Body["pad"] = strings.Repeat("p", pad)
		}
		data, err := ox.AppendRecord(nil, r)
		if err != nil {
			panic(err)
		}
		meta, err := ox.AppendMeta(nil, r.Meta())
		if err != nil {
			panic(err)
		}
		metas, datas = append(metas, meta), append(datas, data)
	}
	return metas, datas
}

// send ADDR N SIZE: connect, print the start time in Unix nanoseconds, blast N
// events, close. One PUSH connection with buffered writes: faster than any receiver.
func send(args []string) error {
	addr := args[0]
	n, _ := strconv.Atoi(args[1])
	size, _ := strconv.Atoi(args[2])
	metas, datas := events(64, size)
	var nc net.Conn
	var err error
	for range 100 {
		if nc, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	zc, err := zmtp.Handshake(nc, "PUSH", 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Println(time.Now().UnixNano())
	for i := range n {
		if err := zc.WriteMsg(metas[i%64], datas[i%64]); err != nil {
			return err
		}
	}
	if err := zc.Flush(); err != nil {
		return err
	}
	// Let the receiver read to the end before the connection closes.
	_ = nc.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, nc)
	return nil
}

// zmq4pull ADDR N: a bare zmq4 PULL socket; prints "ready", then the Unix
// nanoseconds when the Nth message arrived.
func zmq4Pull(args []string) error {
	n, _ := strconv.Atoi(args[1])
	pull := zmq4.NewPull(context.Background(), zmq4.WithLogger(log.New(io.Discard, "", 0)))
	defer pull.Close()
	if err := pull.Listen("tcp://" + args[0]); err != nil {
		return err
	}
	fmt.Println("ready")
	for range n {
		if _, err := pull.Recv(); err != nil {
			return err
		}
	}
	fmt.Println(time.Now().UnixNano())
	return nil
}

const pyPull = `
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PULL)
s.bind("tcp://" + sys.argv[1])
n = int(sys.argv[2])
print("ready", flush=True)
for _ in range(n):
    s.recv_multipart()
print(time.time_ns(), flush=True)
`

type result struct {
	rate    float64 // events/s
	hwmKiB  int     // oxd's peak RSS
	cpu     float64 // oxd's CPU seconds (user + system) over the run
	dropped int64   // stream subscriber losses
	subGot  int64
}

func bench(args []string) error {
	fs := flag.NewFlagSet("oxload", flag.ContinueOnError)
	oxdBin := fs.String("oxd", "", "oxd binary (go build -o /tmp/oxd ./oxd)")
	n := fs.Int("n", 300000, "events per run")
	size := fs.Int("size", 300, "bytes per data frame (about)")
	runs := fs.Int("runs", 5, "runs per target; medians are reported")
	python := fs.String("python", "/usr/bin/python3", "python3 with pyzmq")
	targets := fs.String("targets", "libzmq,zmq4,oxd", "what to measure, in this order each round: libzmq, zmq4, copy, oxd")
	withSub := fs.Bool("sub", true, "attach a stream subscriber to oxd")
	cpuprofile := fs.String("cpuprofile", "", "write oxd's CPU profile of the last run here")
	dir := fs.String("dir", "", "parent of oxd's log path (default: the system's temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *oxdBin == "" && strings.Contains(*targets, "oxd") {
		return fmt.Errorf("-oxd is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	_, datas := events(64, *size)
	fmt.Printf("oxload: %d events of %d bytes per run, %d runs, one PUSH connection\n", *n, len(datas[0]), *runs)
	res := map[string][]result{}
	order := strings.Split(*targets, ",")
	for run := range *runs {
		for _, target := range order {
			var r result
			var err error
			switch target {
			case "libzmq":
				r, err = runPull(self, *n, *size, *python, "-c", pyPull)
			case "zmq4":
				r, err = runPull(self, *n, *size, self, "zmq4pull")
			case "copy":
				r, err = runCopy(self, *dir, *n, *size)
			case "oxd":
				prof := ""
				if run == *runs-1 {
					prof = *cpuprofile
				}
				r, err = runOxd(self, *oxdBin, *dir, *n, *size, prof, "", *withSub)
			case "oxdhttp", "oxdscrape":
				// oxd with --http on, without and with /metrics scraped every second.
				r, err = runOxd(self, *oxdBin, *dir, *n, *size, "", target, *withSub)
			default:
				return fmt.Errorf("unknown target %q", target)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", target, err)
			}
			fmt.Printf("run %d %-6s %9.0f events/s", run+1, target, r.rate)
			switch {
			case strings.HasPrefix(target, "oxd"):
				fmt.Printf("  VmHWM %d MiB  CPU %.2f s  subscriber got %d, dropped %d", r.hwmKiB/1024, r.cpu, r.subGot, r.dropped)
			case target == "copy":
				fmt.Printf("  CPU %.2f s", r.cpu)
			}
			fmt.Println()
			res[target] = append(res[target], r)
		}
	}
	fmt.Println("medians:")
	med := map[string]float64{}
	for _, target := range order {
		rates := make([]float64, 0, len(res[target]))
		for _, r := range res[target] {
			rates = append(rates, r.rate)
		}
		med[target] = median(rates)
		fmt.Printf("  %-6s %9.0f events/s\n", target, med[target])
	}
	for _, tgt := range []string{"oxdhttp", "oxdscrape"} {
		base, with := res["oxd"], res[tgt]
		if len(base) == 0 || len(with) != len(base) {
			continue
		}
		// Ratios of the same round, where the machine's load was alike.
		var rate, cpu []float64
		for i := range base {
			rate = append(rate, with[i].rate/base[i].rate)
			if base[i].cpu > 0 {
				cpu = append(cpu, with[i].cpu/base[i].cpu)
			}
		}
		fmt.Printf("  %s / oxd: rate %.3fx (median of rounds), CPU %.3fx\n", tgt, median(rate), median(cpu))
	}
	if rs := res["copy"]; len(rs) > 0 {
		cpu := make([]float64, 0, len(rs))
		for _, r := range rs {
			cpu = append(cpu, r.cpu)
		}
		fmt.Printf("  copy CPU (user + system) median %.2f s, %.2f µs per event\n", median(cpu), median(cpu)/float64(*n)*1e6)
	}
	if rs := res["oxd"]; len(rs) > 0 {
		hwm := make([]float64, 0, len(rs))
		for _, r := range rs {
			hwm = append(hwm, float64(r.hwmKiB)/1024)
		}
		fmt.Printf("  oxd peak RSS (VmHWM) median %.1f MiB, max %.1f MiB\n", median(hwm), maxOf(hwm))
		cpu := make([]float64, 0, len(rs))
		for _, r := range rs {
			cpu = append(cpu, r.cpu)
		}
		fmt.Printf("  oxd CPU (user + system) median %.2f s, %.2f µs per event\n", median(cpu), median(cpu)/float64(*n)*1e6)
		if med["libzmq"] > 0 {
			fmt.Printf("  oxd / libzmq PULL = %.2fx\n", med["oxd"]/med["libzmq"])
		}
		if med["zmq4"] > 0 {
			fmt.Printf("  oxd / zmq4 PULL   = %.2fx\n", med["oxd"]/med["zmq4"])
		}
		if med["copy"] > 0 {
			fmt.Printf("  oxd / copy to a file = %.2fx\n", med["oxd"]/med["copy"])
		}
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startSender starts the sender process and returns it with its start time.
func startSender(self, addr string, n, size int) (*exec.Cmd, <-chan int64, error) {
	cmd := exec.Command(self, "send", addr, strconv.Itoa(n), strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	start := make(chan int64, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			v, _ := strconv.ParseInt(sc.Text(), 10, 64)
			start <- v
		}
		close(start)
		io.Copy(io.Discard, out)
	}()
	return cmd, start, nil
}

// runPull measures a bare PULL receiver process (python or zmq4).
func runPull(self string, n, size int, prog string, progArgs ...string) (result, error) {
	addr, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(prog, append(progArgs, addr, strconv.Itoa(n))...)
	t0, last, err := timeReceiver(cmd, "receiver", self, addr, n, size)
	if err != nil {
		return result{}, err
	}
	t1, _ := strconv.ParseInt(last, 10, 64)
	return result{rate: float64(n) / (float64(t1-t0) / 1e9)}, nil
}

// timeReceiver runs cmd, a receiver (named what in errors) that listens on
// addr, prints "ready" once it does and one more line once it has taken all n
// events; it sends them from a sender process and returns the sender's start
// time and the receiver's last line. The receiver has exited on return.
func timeReceiver(cmd *exec.Cmd, what, self, addr string, n, size int) (int64, string, error) {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		return 0, "", fmt.Errorf("%s did not start", what)
	}
	sender, start, err := startSender(self, addr, n, size)
	if err != nil {
		cmd.Process.Kill()
		return 0, "", err
	}
	t0 := <-start
	if !sc.Scan() {
		cmd.Process.Kill()
		sender.Process.Kill()
		return 0, "", fmt.Errorf("%s ended early", what)
	}
	sender.Wait()
	return t0, sc.Text(), nil
}

// runOxd measures oxd writing to a fresh log path with one subscriber attached.
func runOxd(self, bin, parent string, n, size int, cpuprofile, mode string, withSub bool) (result, error) {
	dir, err := os.MkdirTemp(parent, "oxload")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	collect, _ := freeAddr()
	control, _ := freeAddr()
	args := []string{"-c", collect, "-t", control, "-l", filepath.Join(dir, "logs")}
	httpAddr, _ := freeAddr()
	if mode == "" {
		httpAddr = ""
	}
	args = append(args, "--http="+httpAddr)
	if mode == "oxdscrape" {
		stop := make(chan struct{})
		defer close(stop)
		go scrape("http://"+httpAddr+"/metrics", stop)
	}
	if cpuprofile != "" {
		args = append(args, "--cpuprofile", cpuprofile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	var streamPort int
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		reply, err := ox.ControlRequest(ctx, control, map[string]any{"cmd": "SOCK_STREAM"})
		cancel()
		if err == nil {
			streamPort = int(reply["port"].(int64))
			break
		}
		if i > 100 {
			return result{}, fmt.Errorf("oxd does not answer: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var subGot atomic.Int64
	if withSub {
		if err := subscribe(streamPort, control, &subGot); err != nil {
			return result{}, err
		}
	}
	return blastOxd(self, cmd.Process.Pid, collect, control, filepath.Join(dir, "logs"), n, size, &subGot)
}

// subscribe attaches one subscriber to everything on oxd's stream port, reading
// as fast as it can, and waits until oxd has registered it.
func subscribe(streamPort int, control string, subGot *atomic.Int64) error {
	nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(streamPort)))
	if err != nil {
		return err
	}
	sub, err := zmtp.Handshake(nc, "SUB", 5*time.Second)
	if err != nil {
		nc.Close()
		return err
	}
	sub.WriteMsg([]byte{1})
	sub.Flush()
	go func() {
		defer nc.Close() // ends when oxd closes it at exit
		var frames [][]byte
		buf := make([]byte, 1<<16)
		alloc := func(k int) []byte {
			if k <= len(buf) {
				return buf[:k]
			}
			return make([]byte, k)
		}
		for {
			m, err := sub.ReadMsg(frames, 1<<20, alloc)
			if err != nil {
				return
			}
			frames = m.Frames
			subGot.Add(1)
		}
	}()
	for i := 0; ; i++ { // wait for the subscription to register
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := ox.Status(ctx, control)
		cancel()
		if err == nil {
			if s, ok := st["stream"].(map[string]any); ok && s["prefixes"].(int64) >= 1 {
				break
			}
		}
		if i > 200 {
			return fmt.Errorf("subscription not registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// blastOxd sends n events to the oxd at pid and waits until its log files hold
// every byte of them.
func blastOxd(self string, pid int, collect, control, logs string, n, size int, subGot *atomic.Int64) (result, error) {

	_, datas := events(64, size)
	var want int64
	for i := range n {
		want += int64(len(datas[i%64]))
	}
	sender, start, err := startSender(self, collect, n, size)
	if err != nil {
		return result{}, err
	}
	t0 := <-start
	var t1 int64
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if total := dirSize(logs); total >= want {
			t1 = time.Now().UnixNano()
			break
		}
		if time.Now().After(deadline) {
			sender.Process.Kill()
			return result{}, fmt.Errorf("only %d of %d bytes on disk after 5 minutes", dirSize(logs), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	sender.Wait()
	r := result{rate: float64(n) / (float64(t1-t0) / 1e9), hwmKiB: vmHWM(pid), cpu: cpuSeconds(pid)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	st, err := ox.Status(ctx, control)
	cancel()
	if err == nil {
		if s, ok := st["stream"].(map[string]any); ok {
			r.dropped = s["dropped"].(int64)
		}
		if got := st["received"].(int64); got != int64(n) {
			return r, fmt.Errorf("oxd received %d events, sent %d", got, n)
		}
	}
	time.Sleep(100 * time.Millisecond)
	r.subGot = subGot.Load()
	return r, nil
}

// scrape GETs url every second until stop, as a Prometheus server would.
func scrape(url string, stop <-chan struct{}) {
	c := &http.Client{Timeout: 5 * time.Second}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if resp, err := c.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
}

func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if fi, err := de.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func vmHWM(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}

// cpuSeconds is the user and system CPU time pid has used so far, from
// /proc/<pid>/stat (in clock ticks of 1/100 s, as on Linux).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}
