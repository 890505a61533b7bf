//go:build !linux

package main

import "time"

var processStart = time.Now()

// writeProcess writes the process start time; CPU, memory and descriptors are read
// from /proc on Linux only.
func writeProcess(p *promText) {
	p.one("oxd_process_start_time_seconds", "gauge", "Start time of the process, Unix time.", float64(processStart.UnixMilli())/1e3)
}
