package main

import (
	"errors"
	"sync"

	"github.com/blueox/ox"
)

// wrongPort keeps the first *ox.WrongPortError the sender reports: oxingest
// given the control port (or any port but a collection port) says so once and
// exits 1, instead of retrying what cannot work. Safe for concurrent use.
type wrongPort struct {
	mu  sync.Mutex
	err error
}

// note keeps err if it is a wrong-port error and reports whether it was.
func (w *wrongPort) note(err error) bool {
	var wrong *ox.WrongPortError
	if !errors.As(err, &wrong) {
		return false
	}
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	return true
}

// get returns the wrong-port error kept, or nil.
func (w *wrongPort) get() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
