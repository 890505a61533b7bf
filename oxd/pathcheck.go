package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// checkWritable proves at start that oxd can make a folder and a file under dir
// and write to it, the way the writer will (a dated folder, then a file in it),
// so an unusable --log-path or --spool-path stops oxd with the reason instead
// of accepting events it cannot keep. It creates dir when missing and leaves
// nothing else behind.
func checkWritable(flag, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("oxd: %s %s: cannot create the folder: %w", flag, dir, unwrapPath(err))
	}
	probe := filepath.Join(dir, ".oxd-check-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return fmt.Errorf("oxd: %s %s: cannot create a folder in it: %w", flag, dir, unwrapPath(err))
	}
	defer os.RemoveAll(probe)
	f, err := os.OpenFile(filepath.Join(probe, "probe.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("oxd: %s %s: cannot create a file in it: %w", flag, dir, unwrapPath(err))
	}
	_, werr := f.Write([]byte("x"))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("oxd: %s %s: cannot write a file in it: %w", flag, dir, unwrapPath(werr))
	}
	return nil
}

// unwrapPath drops the *PathError's operation and path (the message names the
// folder already) and keeps the reason, e.g. "permission denied".
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// The reasons a log file write can fail, indexes of writerStats.Errors.
const (
	errOpen    = iota // a file could not be created or opened
	errWrite          // a buffered write failed (disk full, I/O error)
	errReopen         // a file moved away could not be opened again
	errBadPath        // a type name that would leave its folder (never expected)
	numErrReasons
)

// errorReasons names each reason, the keys of STATUS files.errors: every one is
// shown with its count, zeros included, from the start.
var errorReasons = [numErrReasons]string{"open", "write", "reopen", "bad_path"}

// fail counts a failure of the given reason and logs it at error level, at most
// once per reason every 10 s (the rate log says how many it held back).
func (w *fileWriter) fail(reason int, msg string, args ...any) {
	w.stats.Errors[reason]++
	w.errLog.Error(errorReasons[reason], msg, args...)
}

// errorCounts is the files.errors object of STATUS.
func (s writerStats) errorCounts() map[string]any {
	m := make(map[string]any, numErrReasons)
	for i, name := range errorReasons {
		m[name] = s.Errors[i]
	}
	return m
}
