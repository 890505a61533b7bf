package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blueox/ox"
)

// runTop is `oxctl top`: a view of a running oxd refreshed from STATUS every
// interval, like `vector top`. On a terminal it takes the screen until q or Ctrl-C
// and restores it; otherwise it prints one snapshot (rates over one interval) and
// exits, for scripts and logs.
func runTop(ctx context.Context, g *globals, args []string, stdout io.Writer) error {
	fs := newFlagSet("oxctl top")
	g.bind(fs)
	interval := time.Second
	fs.DurationVar(&interval, "interval", interval, "")
	fs.DurationVar(&interval, "n", interval, "")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("top: unexpected argument %q", fs.Arg(0))}
	}
	if g.timeout <= 0 || interval <= 0 {
		return usageError{"--timeout and --interval must be positive"}
	}
	addr, err := ox.ControlAddr(g.host)
	if err != nil {
		return usageError{err.Error()}
	}
	status := func() (map[string]any, time.Time, error) {
		ctx, cancel := context.WithTimeout(ctx, g.timeout)
		defer cancel()
		reply, err := ox.Status(ctx, addr)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, time.Time{}, fmt.Errorf("no answer from %s within %s (is oxd running there?)", addr, g.timeout)
			}
			return nil, time.Time{}, fmt.Errorf("status of %s: %w", addr, err)
		}
		if e, ok := reply["error"]; ok {
			return nil, time.Time{}, fmt.Errorf("status of %s: the collector answered with an error: %v", addr, e)
		}
		return reply, time.Now(), nil
	}
	prev, prevT, err := status()
	if err != nil {
		return err
	}
	f, isFile := stdout.(*os.File)
	if !isFile || !isTerminal(f) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		cur, curT, err := status()
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, formatTop(addr, prev, cur, curT.Sub(prevT), curT, 80, 0))
		return err
	}
	return topTerminal(ctx, f, addr, interval, prev, prevT, status)
}

// topTerminal runs the full-screen view on f until q, Ctrl-C or ctx ends.
func topTerminal(ctx context.Context, f *os.File, addr string, interval time.Duration,
	prev map[string]any, prevT time.Time, status func() (map[string]any, time.Time, error)) error {
	restore, err := rawMode(os.Stdin)
	if err != nil {
		return fmt.Errorf("top: %w", err)
	}
	io.WriteString(f, "\x1b[?1049h\x1b[?25l") // alternate screen, cursor hidden
	defer func() {
		io.WriteString(f, "\x1b[?25h\x1b[?1049l")
		restore()
	}()
	keys := make(chan byte, 8)
	go func() {
		b := make([]byte, 1)
		for {
			if n, err := os.Stdin.Read(b); err != nil || n == 0 {
				close(keys)
				return
			}
			keys <- b[0]
		}
	}()
	cur, curT := prev, prevT
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastErr error
	for {
		rows, cols := termSize()
		var frame string
		if lastErr != nil {
			frame = fmt.Sprintf("oxd %s: %v (retrying; q quits)\n", addr, lastErr)
		} else {
			frame = formatTop(addr, prev, cur, curT.Sub(prevT), curT, cols, rows)
		}
		// Raw mode: lines need a carriage return as well as a newline.
		io.WriteString(f, "\x1b[H\x1b[2J"+strings.ReplaceAll(frame, "\n", "\r\n"))
		select {
		case <-ctx.Done():
			return nil
		case k, ok := <-keys:
			if !ok || k == 'q' || k == 'Q' || k == 3 || k == 4 { // q, Ctrl-C, Ctrl-D
				return nil
			}
		case <-tick.C:
			next, t, err := status()
			lastErr = err
			if err == nil {
				prev, prevT, cur, curT = cur, curT, next, t
			}
		}
	}
}

// isTerminal reports whether f is a character device (a terminal, for our purposes).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// rawMode puts the terminal on in into raw mode with stty (no third-party terminal
// package) and returns what restores it.
func rawMode(in *os.File) (func(), error) {
	stty := func(args ...string) (string, error) {
		cmd := exec.Command("stty", args...)
		cmd.Stdin = in
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("stty %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
		}
		return strings.TrimSpace(out.String()), nil
	}
	saved, err := stty("-g")
	if err != nil {
		return nil, err
	}
	if _, err := stty("raw", "-echo"); err != nil {
		return nil, err
	}
	return func() { stty(saved) }, nil
}

// termSize is the terminal's rows and columns (24x80 when unknown).
func termSize() (rows, cols int) {
	cmd := exec.Command("stty", "size")
	cmd.Stdin = os.Stdin
	out, err := cmd.Output()
	if err == nil {
		if f := strings.Fields(string(out)); len(f) == 2 {
			r, err1 := strconv.Atoi(f[0])
			c, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && r > 0 && c > 0 {
				return r, c
			}
		}
	}
	return 24, 80
}

// typeRate is one line of the types table.
type typeRate struct {
	name  string
	rate  float64
	total uint64
	last  float64
}

// formatTop renders one frame from two STATUS replies dt apart: rates from the
// counters' differences. rows bounds the number of lines (0: no bound), cols their
// width.
func formatTop(addr string, prev, cur map[string]any, dt time.Duration, now time.Time, cols, rows int) string {
	var b strings.Builder
	secs := max(dt.Seconds(), 1e-3)
	rate := func(a, b any) float64 {
		x, y := count(a), count(b)
		if y < x {
			return 0
		}
		return float64(y-x) / secs
	}
	fmt.Fprintf(&b, "oxd %s  %s", addr, now.UTC().Format("15:04:05 UTC"))
	if rows > 0 {
		b.WriteString("  (q quits)")
	}
	b.WriteByte('\n')
	drops, _ := cur["dropped"].(map[string]any)
	pdrops, _ := prev["dropped"].(map[string]any)
	var dropTotal, dropRate float64
	for k, v := range drops {
		dropTotal += float64(count(v))
		dropRate += rate(pdrops[k], v)
	}
	fmt.Fprintf(&b, "received %s/s  total %s  bad %s/s (%s)  connections %s\n",
		human(rate(prev["received"], cur["received"])), human(float64(count(cur["received"]))),
		human(dropRate), human(dropTotal), human(float64(count(cur["connections"]))))
	if s, ok := cur["stream"].(map[string]any); ok {
		ps, _ := prev["stream"].(map[string]any)
		fmt.Fprintf(&b, "stream   %s subscribers  sent %s/s  subscriber drops %s/s (%s)\n",
			human(float64(count(s["subscribers"]))), human(rate(ps["sent"], s["sent"])),
			human(rate(ps["dropped"], s["dropped"])), human(float64(count(s["dropped"]))))
	}
	if fl, ok := cur["files"].(map[string]any); ok {
		fmt.Fprintf(&b, "files    %s open  write errors %s  lost %s\n", human(float64(count(fl["open"]))),
			human(float64(count(fl["write_errors"]))), human(float64(count(fl["lost_on_error"]))))
	}
	if fw, ok := cur["forward"].(map[string]any); ok {
		pf, _ := prev["forward"].(map[string]any)
		state := "DOWN"
		if fw["connected"] == true {
			state = "connected"
		}
		fmt.Fprintf(&b, "forward  %v to %v %s  sent %s/s", fw["mode"], printable(fmt.Sprint(fw["target"])), state, human(rate(pf["sent"], fw["sent"])))
		if fw["mode"] == "spool" {
			used, limit := float64(count(fw["spool_bytes"])), float64(count(fw["spool_max_bytes"]))
			pct := 0.0
			if limit > 0 {
				pct = 100 * used / limit
			}
			age, _ := number(fw["oldest_unacked_age"])
			fmt.Fprintf(&b, "  unacked %s  oldest %.1fs  spool %.1f%%  dropped %s  lost %s",
				human(float64(count(fw["unacked"]))), age, pct, human(float64(count(fw["spool_dropped"]))), human(float64(count(fw["disk_lost"]))))
		} else {
			fmt.Fprintf(&b, "  queued %s  dropped %s", human(float64(count(fw["queued"]))), human(float64(count(fw["dropped"]))))
		}
		if e, ok := fw["last_error"].(string); ok && fw["connected"] != true {
			fmt.Fprintf(&b, "\n         last error: %s", printable(e))
		}
		b.WriteByte('\n')
	}

	events, _ := cur["events"].(map[string]any)
	pevents, _ := prev["events"].(map[string]any)
	types := make([]typeRate, 0, len(events))
	for name, v := range events {
		info, _ := v.(map[string]any)
		pinfo, _ := pevents[name].(map[string]any)
		last, _ := number(info["last"])
		types = append(types, typeRate{name: name, rate: rate(pinfo["count"], info["count"]), total: count(info["count"]), last: last})
	}
	slices.SortFunc(types, func(a, b typeRate) int {
		if c := cmp.Compare(b.rate, a.rate); c != 0 {
			return c
		}
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	fmt.Fprintf(&b, "\n%-32s %12s %14s %10s\n", "TYPE", "EVENTS/S", "TOTAL", "LAST")
	lines := strings.Count(b.String(), "\n")
	var dropNames []string
	for k, v := range drops {
		if count(v) > 0 {
			dropNames = append(dropNames, k)
		}
	}
	slices.Sort(dropNames)
	room := len(types)
	if rows > 0 {
		room = max(rows-lines-1-len(dropNames)-2, 1)
	}
	for i, t := range types {
		if i >= room {
			fmt.Fprintf(&b, "… %d more types\n", len(types)-i)
			break
		}
		ago := "-"
		if t.last > 0 {
			ago = fmt.Sprintf("%.0fs ago", max(0, float64(now.UnixNano())/1e9-t.last))
		}
		fmt.Fprintf(&b, "%-32s %12s %14s %10s\n", clip(printable(t.name), 32), human(t.rate), human(float64(t.total)), ago)
	}
	if len(dropNames) > 0 {
		fmt.Fprintf(&b, "\n%-32s %12s %14s\n", "DROPPED (bad input)", "PER S", "TOTAL")
		for _, k := range dropNames {
			fmt.Fprintf(&b, "%-32s %12s %14s\n", clip(printable(k), 32), human(rate(pdrops[k], drops[k])), human(float64(count(drops[k]))))
		}
	}
	if cols > 0 {
		out := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		for i, l := range out {
			out[i] = clip(l, cols)
		}
		return strings.Join(out, "\n") + "\n"
	}
	return b.String()
}

func count(v any) uint64 {
	switch n := v.(type) {
	case uint64:
		return n
	case int64:
		return uint64(max(n, 0))
	case float64:
		return uint64(max(n, 0))
	}
	return 0
}

// human formats a count or rate: whole numbers with thousands separators, small
// rates with one decimal.
func human(f float64) string {
	if f < 100 && f != float64(int64(f)) {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(f+0.5), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// clip cuts s to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
