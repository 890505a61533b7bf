package miniotest

import "syscall"

// procAttr kills MinIO when the test process dies, even by a crash that skips
// Close, so no server outlives its tests.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
