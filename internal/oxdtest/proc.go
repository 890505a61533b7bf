package oxdtest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Pid is the process id of the running oxd (0 before Start).
func (o *Oxd) Pid() int {
	if o.cmd == nil || o.cmd.Process == nil {
		return 0
	}
	return o.cmd.Process.Pid
}

// Alive reports whether the oxd process has not exited.
func (o *Oxd) Alive() bool {
	if o.done == nil {
		return false
	}
	select {
	case <-o.done:
		return false
	default:
		return true
	}
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/<pid>/status; Linux only).
func PeakRSS(pid int) (int64, error) {
	return procStatus(pid, "VmHWM:")
}

// RSS returns the process's current resident set size in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	return procStatus(pid, "VmRSS:")
}

func procStatus(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		fields := strings.Fields(line[len(key):])
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", key, line, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}
