package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"time"

	"github.com/blueox/ox"
)

// fileWriter appends data frames to <log-path>/<YYYYMMDD>/<type>-<date>.log. One
// goroutine (the collection loop) owns it; its methods are not safe for concurrent use.
//
// Every path is opened through an os.Root on the log path, so no type name, link or
// race can make it create a file outside; type names are also checked with
// ox.ValidTypeName before they get here.
type fileWriter struct {
	root        *os.Root
	rotateHours int
	idle        time.Duration // close a file after this long without a write
	maxOpen     int           // open files at most; the least recently used is closed
	bufSize     int
	log         *slog.Logger
	errLog      *rateLog

	files       map[string]*logFile
	periodStart time.Time // the current file period [periodStart, periodEnd)
	periodEnd   time.Time
	dir         string // "YYYYMMDD" of the period

	stats writerStats
}

// writerStats are the writer's counters for STATUS.
type writerStats struct {
	Written      uint64 // events handed to files
	Bytes        uint64
	Opened       uint64
	Reopened     uint64 // files found deleted or moved away and opened again
	Rotations    uint64
	WriteErrors  uint64
	LostOnErrors uint64 // events whose bytes could not be written
	// Errors counts the failures by reason (errOpen, errWrite, ...).
	Errors [numErrReasons]uint64
}

type logFile struct {
	typ     string
	rel     string // path under the root
	f       *os.File
	buf     []byte
	pending uint64 // events in buf
	last    time.Time
}

func newFileWriter(logPath string, rotateHours int, log *slog.Logger) (*fileWriter, error) {
	if err := os.MkdirAll(logPath, 0o755); err != nil {
		return nil, fmt.Errorf("oxd: log path: %w", err)
	}
	root, err := os.OpenRoot(logPath)
	if err != nil {
		return nil, fmt.Errorf("oxd: log path: %w", err)
	}
	return &fileWriter{
		root:        root,
		rotateHours: rotateHours,
		idle:        60 * time.Second,
		maxOpen:     256,
		bufSize:     64 << 10,
		log:         log,
		errLog:      newRateLog(log, 10*time.Second),
		files:       map[string]*logFile{},
	}, nil
}

// period returns the start and end of the file period holding t.
func (w *fileWriter) period(t time.Time) (time.Time, time.Time) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if w.rotateHours <= 0 {
		return day, day.AddDate(0, 0, 1)
	}
	start := day.Add(time.Duration(t.Hour()/w.rotateHours*w.rotateHours) * time.Hour)
	end := start.Add(time.Duration(w.rotateHours) * time.Hour)
	if next := day.AddDate(0, 0, 1); end.After(next) {
		end = next // e.g. 5-hour periods: the last one of a day ends at midnight
	}
	return start, end
}

// Write appends one data frame to typ's file for the period holding now. The caller
// has validated typ. A failed write is counted and logged; it never stops the caller.
func (w *fileWriter) Write(typ string, data []byte, now time.Time) {
	if now.Before(w.periodStart) || !now.Before(w.periodEnd) {
		w.rotate(now)
	}
	lf := w.files[typ]
	if lf == nil {
		lf = w.open(typ, now)
		if lf == nil {
			w.stats.LostOnErrors++
			return
		}
	}
	lf.last = now
	if len(lf.buf)+len(data) > w.bufSize && len(lf.buf) > 0 {
		w.flushFile(lf)
	}
	lf.buf = append(lf.buf, data...)
	lf.pending++
	w.stats.Written++
	w.stats.Bytes += uint64(len(data))
}

// rotate closes every file of the old period; files of the new period open on demand.
func (w *fileWriter) rotate(now time.Time) {
	if len(w.files) > 0 {
		w.stats.Rotations++
		w.log.Info("rotating log files", "period", now.UTC().Format(time.RFC3339))
	}
	w.closeAll(true)
	w.periodStart, w.periodEnd = w.period(now)
	w.dir = ox.LogDir(w.periodStart)
}

func (w *fileWriter) open(typ string, now time.Time) *logFile {
	if len(w.files) >= w.maxOpen {
		w.closeOldest()
	}
	lf := &logFile{
		typ: typ,
		rel: path.Join(w.dir, ox.LogFileName(typ, w.periodStart, w.rotateHours)),
	}
	if path.Dir(lf.rel) != w.dir { // ValidTypeName makes this impossible; be sure
		w.fail(errBadPath, "refusing a type name that leaves its folder; event lost", "type", typ)
		return nil
	}
	f, err := w.openFile(lf.rel)
	if err != nil {
		w.stats.WriteErrors++
		w.fail(errOpen, "cannot open log file; event lost", "file", lf.rel, "err", err)
		return nil
	}
	lf.f = f
	lf.buf = make([]byte, 0, min(w.bufSize, 4096))
	w.files[typ] = lf
	w.stats.Opened++
	w.log.Debug("opened log file", "file", lf.rel)
	return lf
}

func (w *fileWriter) openFile(rel string) (*os.File, error) {
	if err := w.root.Mkdir(path.Dir(rel), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return w.root.OpenFile(rel, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (w *fileWriter) closeOldest() {
	var oldest *logFile
	for _, lf := range w.files {
		if oldest == nil || lf.last.Before(oldest.last) {
			oldest = lf
		}
	}
	if oldest != nil {
		w.closeFile(oldest, false)
	}
}

// flushFile writes lf's buffer. A write error drops the buffer (counted): holding it
// would only grow memory while the disk is full.
func (w *fileWriter) flushFile(lf *logFile) {
	if len(lf.buf) == 0 {
		return
	}
	if _, err := lf.f.Write(lf.buf); err != nil {
		w.stats.WriteErrors++
		w.stats.LostOnErrors += lf.pending
		w.fail(errWrite, "cannot write log file; events lost", "file", lf.rel, "events", lf.pending, "err", err)
	}
	lf.buf = lf.buf[:0]
	lf.pending = 0
}

func (w *fileWriter) closeFile(lf *logFile, sync bool) {
	w.flushFile(lf)
	if sync {
		_ = lf.f.Sync()
	}
	if err := lf.f.Close(); err != nil {
		w.errLog.Warn("close", "closing log file", "file", lf.rel, "err", err)
	}
	delete(w.files, lf.typ)
	w.log.Debug("closed log file", "file", lf.rel)
}

func (w *fileWriter) closeAll(sync bool) {
	for _, lf := range w.files {
		w.closeFile(lf, sync)
	}
}

// Flush writes every buffered event to its file (to the operating system).
func (w *fileWriter) Flush() {
	for _, lf := range w.files {
		w.flushFile(lf)
	}
}

// Tick runs the periodic upkeep, at least once a second: move the buffers of files
// that were deleted or moved away into new files, flush, close idle files and the
// files of a finished period.
func (w *fileWriter) Tick(now time.Time) {
	if len(w.files) > 0 && (now.Before(w.periodStart) || !now.Before(w.periodEnd)) {
		w.rotate(now)
	}
	for _, lf := range w.files {
		w.checkMoved(lf)
		w.flushFile(lf)
		if now.Sub(lf.last) >= w.idle {
			w.closeFile(lf, false)
		}
	}
}

// checkMoved reopens lf when its path no longer names the open file (deleted, or
// moved away by an external rotation), so the buffered events go to the new file.
func (w *fileWriter) checkMoved(lf *logFile) {
	cur, err := lf.f.Stat()
	if err != nil {
		return
	}
	onDisk, err := w.root.Stat(lf.rel)
	if err == nil && os.SameFile(cur, onDisk) {
		return
	}
	f, err := w.openFile(lf.rel)
	if err != nil {
		w.stats.WriteErrors++
		w.fail(errReopen, "cannot reopen log file", "file", lf.rel, "err", err)
		return
	}
	_ = lf.f.Close()
	lf.f = f
	w.stats.Reopened++
	w.log.Info("log file was moved or deleted; reopened", "file", lf.rel)
}

// OpenFiles is the number of open log files.
func (w *fileWriter) OpenFiles() int { return len(w.files) }

// Close flushes, syncs and closes every file.
func (w *fileWriter) Close() error {
	w.closeAll(true)
	return w.root.Close()
}
