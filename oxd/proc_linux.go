package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processStart is when this process started, near enough (oxd's first package init).
var processStart = time.Now()

// writeProcess writes the process's CPU time, memory and descriptors, read from
// getrusage, /proc/self and getrlimit.
func writeProcess(p *promText) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		p.one("oxd_process_cpu_seconds_total", "counter", "User and system CPU time spent.", cpu.Seconds())
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if kb, ok := procStatusKB(b, "VmRSS:"); ok {
			p.one("oxd_process_resident_memory_bytes", "gauge", "Resident memory size.", float64(kb)*1024)
		}
		if kb, ok := procStatusKB(b, "VmSize:"); ok {
			p.one("oxd_process_virtual_memory_bytes", "gauge", "Virtual memory size.", float64(kb)*1024)
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.one("oxd_process_open_fds", "gauge", "Open file descriptors.", float64(len(ents)))
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		p.one("oxd_process_max_fds", "gauge", "Limit of open file descriptors.", float64(rl.Cur))
	}
	p.one("oxd_process_start_time_seconds", "gauge", "Start time of the process, Unix time.", float64(processStart.UnixMilli())/1e3)
}

// procStatusKB finds "Key:   1234 kB" in /proc/self/status.
func procStatusKB(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	line := b[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(f[0]), 10, 64)
	return n, err == nil
}
