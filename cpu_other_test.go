//go:build !linux

package ox

import "time"

func cpuTimes() (thread, process time.Duration, ok bool) { return 0, 0, false }
