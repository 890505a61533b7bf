//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package cli

// isTTY cannot ask the terminal driver here: a character device is taken for one.
func isTTY(fd uintptr) bool { return true }
