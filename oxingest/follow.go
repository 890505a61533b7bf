package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// How files are told apart and read.
const (
	fpSize     = 1024      // bytes at the start of a file that fingerprint it
	readSize   = 256 << 10 // bytes read at a time
	fileBudget = 4 << 20   // bytes read from one file before the next file's turn
	// A rotated file (renamed or deleted) is closed once it is read to its end and
	// has not grown for this long: writers that still had it open may add a last
	// line after the rename.
	rotatedIdle = 5 * time.Second
)

// identity is how a file is recognised, whatever its name: device, inode and a
// hash of its first bytes (an inode number is reused after a delete).
type identity struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	FPLen int    `json:"fp_len"`
	FP    string `json:"fp"` // hex SHA-256 of the first FPLen bytes
}

// tracked is one open file being read.
type tracked struct {
	typ  string
	spec string // the -F path it is followed as
	path string // the name it was opened under
	f    *os.File
	id   identity

	off       int64 // next byte to read
	lines     lineBuf
	delivered int64 // the end of the last line the collector has
	lastGrow  time.Time
	rotated   bool // no longer the file at its path
}

// tailer follows one -F path across rotations.
type tailer struct {
	spec    followSpec
	cur     *tracked   // the file now at the path, or nil
	old     []*tracked // rotated away, read to their end before they close
	missing bool       // the path was missing: the next file there is read from its start
}

// checkpoint says that once the sender has sent seq events, t is delivered up to off.
type checkpoint struct {
	seq uint64
	t   *tracked
	off int64
}

// follower reads every -F file and keeps the state file.
type follower struct {
	o       options
	em      *emitter
	warn    *warner
	tailers []*tailer
	saved   *stateFile
	pending []checkpoint
	closed  []*tracked // rotated files read to their end, kept in the state until delivered
	dirty   bool
	buf     []byte // read buffer
}

func follow(ctx context.Context, o options, em *emitter, warn *warner) error {
	fw := &follower{o: o, em: em, warn: warn, buf: make([]byte, readSize)}
	if o.stateFile != "" {
		st, err := loadState(o.stateFile)
		if err != nil {
			return err
		}
		fw.saved = st
	}
	for _, s := range o.follow {
		t := &tailer{spec: s}
		fw.tailers = append(fw.tailers, t)
		fw.start(t)
	}
	if testHookFollowing != nil {
		testHookFollowing()
	}
	em.afterClose = func(sent uint64) {
		if err := fw.checkpoint(sent); err != nil {
			warn.say(err.Error())
		}
		fw.closeAll()
	}
	tick := time.NewTicker(o.poll)
	defer tick.Stop()
	lastSave := time.Now()
	for {
		more, err := fw.poll(ctx)
		if err != nil {
			return err
		}
		if time.Since(lastSave) >= time.Second {
			lastSave = time.Now()
			if err := fw.checkpoint(fw.em.sender.Stats().Sent); err != nil {
				warn.say(err.Error())
			}
		}
		if more {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// testHookFollowing, when set (by tests), is called once every -F file has been
// opened and positioned: lines written after it are read.
var testHookFollowing func()

// start opens a tailer's file when oxingest starts: at the place the state file
// remembers, else at its end as tail -F does. Files the state file knows that were
// rotated away meanwhile are found in the same directory and read to their end.
func (fw *follower) start(t *tailer) {
	var known []savedFile
	if fw.saved != nil {
		for _, sf := range fw.saved.Files {
			if sf.Path == t.spec.path {
				known = append(known, sf)
			}
		}
	}
	cur, err := fw.open(t.spec, t.spec.path)
	if err != nil {
		t.missing = true
		if !errors.Is(err, fs.ErrNotExist) {
			fw.warn.say(err.Error())
		}
	}
	matched := false
	for _, sf := range known {
		if cur != nil && cur.id.matches(cur.f, sf.identity) {
			cur.seek(min(sf.Offset, cur.size()))
			matched = true
			continue
		}
		// The file remembered is no longer at the path: look for it beside it.
		if old := fw.findRotated(t.spec, sf); old != nil {
			old.rotated = true
			old.seek(sf.Offset)
			t.old = append(t.old, old)
		}
	}
	if cur != nil && !matched {
		if len(known) > 0 {
			cur.seek(0) // a new file appeared where we read before: all of it is new
		} else {
			cur.seek(cur.size())
		}
	}
	t.cur = cur
}

func (fw *follower) open(spec followSpec, path string) (*tracked, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", path, err)
	}
	t := &tracked{typ: spec.typ, spec: spec.path, path: path, f: f, lastGrow: time.Now()}
	if err := t.identify(); err != nil {
		f.Close()
		return nil, fmt.Errorf("follow %s: %w", path, err)
	}
	return t, nil
}

func (fw *follower) findRotated(spec followSpec, sf savedFile) *tracked {
	dir := filepath.Dir(spec.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == spec.path || !e.Type().IsRegular() {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if dev, ino := devIno(fi); dev != sf.Dev || ino != sf.Ino {
			continue
		}
		t, err := fw.open(spec, p)
		if err != nil {
			return nil
		}
		if t.id.matches(t.f, sf.identity) {
			return t
		}
		t.f.Close()
	}
	return nil
}

func devIno(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// identify fills t.id from the open file.
func (t *tracked) identify() error {
	fi, err := t.f.Stat()
	if err != nil {
		return err
	}
	t.id.Dev, t.id.Ino = devIno(fi)
	return t.fingerprint()
}

// fingerprint hashes the file's first bytes (up to fpSize).
func (t *tracked) fingerprint() error {
	head, err := readHead(t.f, fpSize)
	if err != nil {
		return err
	}
	t.id.FPLen = len(head)
	t.id.FP = fmt.Sprintf("%x", sha256.Sum256(head))
	return nil
}

func readHead(f *os.File, n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:got], nil
}

// matches reports whether the open file f is the file id describes: same device
// and inode, and it still starts with the bytes id's fingerprint hashed.
func (id identity) matches(f *os.File, want identity) bool {
	if id.Dev != want.Dev || id.Ino != want.Ino {
		return false
	}
	head, err := readHead(f, want.FPLen)
	if err != nil || len(head) < want.FPLen {
		return false
	}
	return fmt.Sprintf("%x", sha256.Sum256(head)) == want.FP
}

func (t *tracked) size() int64 {
	fi, err := t.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// seek sets where reading starts; everything before counts as delivered.
func (t *tracked) seek(off int64) {
	t.off, t.delivered = off, off
	t.lines = lineBuf{}
}

// poll reads what is new in every file and follows rotations. It reports whether
// some file has more to read right away.
func (fw *follower) poll(ctx context.Context) (bool, error) {
	more := false
	for _, t := range fw.tailers {
		if ctx.Err() != nil {
			return false, nil
		}
		// Rotated files first: their lines are older than the new file's.
		keep := t.old[:0]
		for _, old := range t.old {
			m, err := fw.read(old)
			if err != nil {
				return false, err
			}
			more = more || m
			if !m && time.Since(old.lastGrow) >= rotatedIdle {
				if err := fw.finish(old); err != nil {
					return false, err
				}
				old.f.Close()
				fw.closed = append(fw.closed, old)
				continue
			}
			keep = append(keep, old)
		}
		t.old = keep

		if t.cur != nil {
			m, err := fw.read(t.cur)
			if err != nil {
				return false, err
			}
			more = more || m
		}
		if err := fw.checkRotation(t); err != nil {
			return false, err
		}
	}
	return more, nil
}

// checkRotation notices that the path now names another file, or none: the file
// in hand is read to its end as a rotated file, and the new one from its start.
func (fw *follower) checkRotation(t *tailer) error {
	fi, err := os.Stat(t.spec.path)
	if err != nil {
		if t.cur != nil {
			fw.rotate(t)
		}
		t.missing = true
		return nil
	}
	if t.cur != nil {
		if dev, ino := devIno(fi); dev == t.cur.id.Dev && ino == t.cur.id.Ino {
			return nil
		}
		// Renamed away, a new file in its place: read the last lines of the old one.
		if _, err := fw.read(t.cur); err != nil {
			return err
		}
		fw.rotate(t)
	}
	cur, err := fw.open(t.spec, t.spec.path)
	if err != nil {
		return nil // raced with another rotation: next time
	}
	cur.seek(0)
	t.cur, t.missing = cur, false
	return nil
}

func (fw *follower) rotate(t *tailer) {
	t.cur.rotated = true
	t.cur.lastGrow = time.Now()
	t.old = append(t.old, t.cur)
	t.cur = nil
}

// read sends the complete lines appended to t since the last read, up to
// fileBudget bytes, and reports whether more is waiting. It notices truncation
// (copy-and-truncate rotation) by the size or the first bytes changing.
func (fw *follower) read(t *tracked) (bool, error) {
	size := t.size()
	if !t.rotated {
		if size < t.off || !t.id.matches(t.f, t.id) {
			fw.warn.say(fmt.Sprintf("%s was truncated: reading it from the start", t.path))
			if err := t.fingerprint(); err != nil {
				return false, err
			}
			t.seek(0)
			fw.dirty = true
		} else if t.id.FPLen < fpSize && size > int64(t.id.FPLen) {
			if err := t.fingerprint(); err != nil { // the file grew: a longer fingerprint
				return false, err
			}
			fw.dirty = true
		}
	}
	if size <= t.off {
		return false, nil
	}
	t.lastGrow = time.Now()
	buf := fw.buf
	budget := fileBudget
	for budget > 0 && t.off < size {
		n, err := t.f.ReadAt(buf[:min(int64(len(buf)), size-t.off)], t.off)
		if n == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return false, fmt.Errorf("read %s: %w", t.path, err)
		}
		if err := fw.lines(t, buf[:n]); err != nil {
			return false, err
		}
		t.off += int64(n)
		budget -= n
	}
	return t.off < size, nil
}

// lines sends the complete lines of chunk, read at t.off, and keeps the rest.
func (fw *follower) lines(t *tracked, chunk []byte) error {
	return t.lines.feedAt(fw.em, t.typ, chunk, func(n int) {
		fw.pending = append(fw.pending, checkpoint{seq: fw.em.seq, t: t, off: t.off + int64(n)})
	})
}

// finish sends the last line of a rotated file that did not end with a newline.
func (fw *follower) finish(t *tracked) error {
	if err := t.lines.flush(fw.em, t.typ); err != nil {
		return err
	}
	fw.pending = append(fw.pending, checkpoint{seq: fw.em.seq, t: t, off: t.off})
	return nil
}

func (fw *follower) closeAll() {
	for _, t := range fw.tailers {
		if t.cur != nil {
			t.cur.f.Close()
		}
		for _, old := range t.old {
			old.f.Close()
		}
	}
}

// checkpoint moves the delivered offsets up to what the sender has sent and
// writes the state file when something changed.
func (fw *follower) checkpoint(sent uint64) error {
	n := 0
	for n < len(fw.pending) && fw.pending[n].seq <= sent {
		c := fw.pending[n]
		c.t.delivered = c.off
		n++
	}
	if n > 0 {
		fw.pending = append(fw.pending[:0], fw.pending[n:]...)
		fw.dirty = true
	}
	if fw.o.stateFile == "" || !fw.dirty {
		return nil
	}
	// Every file is saved under the -F path it was followed as (a rotated one
	// too), so a restart looks for it beside that path.
	st := &stateFile{Version: 1}
	keep := fw.closed[:0]
	for _, c := range fw.closed {
		if c.delivered < c.off {
			keep = append(keep, c)
			st.Files = append(st.Files, savedFile{Path: c.spec, Type: c.typ, identity: c.id, Offset: c.delivered})
		}
	}
	clear(fw.closed[len(keep):])
	fw.closed = keep
	for _, t := range fw.tailers {
		files := t.old
		if t.cur != nil {
			files = append(files[:len(files):len(files)], t.cur)
		}
		for _, f := range files {
			st.Files = append(st.Files, savedFile{Path: t.spec.path, Type: t.spec.typ, identity: f.id, Offset: f.delivered})
		}
	}
	if err := st.save(fw.o.stateFile); err != nil {
		return err
	}
	fw.dirty = false
	return nil
}
