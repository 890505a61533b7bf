package peerbench

import (
	"syscall"
	"time"
)

// cpuTimes returns the CPU time (user + system) of the calling thread and of the
// whole process. With the goroutine locked to its thread, the first is what the
// benchmark's own goroutine spent, whatever else runs on the machine.
func cpuTimes() (thread, process time.Duration, ok bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var t, p syscall.Rusage
	if syscall.Getrusage(rusageThread, &t) != nil || syscall.Getrusage(syscall.RUSAGE_SELF, &p) != nil {
		return 0, 0, false
	}
	sum := func(r *syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return sum(&t), sum(&p), true
}
