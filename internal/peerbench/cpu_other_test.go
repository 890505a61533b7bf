//go:build !linux

package peerbench

import "time"

func cpuTimes() (thread, process time.Duration, ok bool) { return 0, 0, false }
