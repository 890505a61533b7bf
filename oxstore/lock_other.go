//go:build !unix

package main

import "errors"

func lockFile(path string) (unlock func(), err error) {
	return nil, errors.New("--lock-file is only supported on Unix systems")
}
