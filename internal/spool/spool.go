// Package spool is an append-only, checksummed, on-disk queue of events for a
// forwarding collector. Records get consecutive sequence numbers; a consumer reads them
// in order with Read and acknowledges with Ack, and segment files are deleted only once
// every record in them is acknowledged.
//
// Durability: Append copies the record into a buffer that is written to the segment
// file (one write call for many records) by Flush, every Options.FlushInterval, when it
// passes 64 KiB, or when a reader needs it; the file is fsynced by Sync and every
// Options.SyncInterval. A
// killed process loses at most the unwritten buffer; a machine crash loses at most the
// records since the last fsync. On Open a torn or corrupt tail record is detected by its
// CRC-32C and cut off.
//
// Bounds: with Options.MaxBytes set, the oldest segments are dropped (and the records
// lost counted and logged as errors) to make room. A failing disk (ENOSPC, EIO) never
// stops the spool: the records that could not be written are counted as lost, the error
// is logged and exposed in Stats, and appending carries on.
package spool

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("spool: closed")

// Options configure a Spool. Zero values mean the defaults.
type Options struct {
	// MaxBytes bounds the spool's size on disk; 0 means unbounded. Past it the oldest
	// segments are dropped, acknowledged or not.
	MaxBytes int64
	// SegmentBytes is the size at which a segment is closed and a new one started
	// (default 16 MiB, at most MaxBytes/4).
	SegmentBytes int64
	// FlushInterval is how often buffered records are written to the file (default 10ms).
	FlushInterval time.Duration
	// SyncInterval is how often written records are fsynced (default 1s).
	SyncInterval time.Duration
	// Logger receives warnings and errors (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

const (
	defaultSegmentBytes = 16 << 20
	flushBytes          = 64 << 10
	stateFile           = "state"
	segSuffix           = ".seg"
)

type segment struct {
	first uint64 // sequence number of the first record; also the file name
	path  string
	size  int64  // bytes written to the file, magic included
	bad   uint64 // first record found corrupt (0: none); the rest is skipped. Reader only.
}

// sample remembers the append time of one record, so the age of the oldest
// unacknowledged record is known without reading the disk.
type sample struct {
	seq  uint64
	time int64
}

// Stats is a snapshot of a spool's state and counters.
type Stats struct {
	ID              string        // forwarder id, stable for the life of the spool directory
	Bytes           int64         // size on disk, buffered records included
	Segments        int           // segment files
	NextSeq         uint64        // sequence number the next record will get
	Acked           uint64        // highest acknowledged sequence number
	Unacked         uint64        // records appended and not yet acknowledged
	OldestUnacked   time.Duration // age of the oldest unacknowledged record (0 if none)
	Appended        uint64        // records appended since Open
	DroppedRecords  uint64        // unacknowledged records dropped to stay under MaxBytes
	DroppedSegments uint64        // segments dropped to stay under MaxBytes
	DiskErrors      uint64        // failed writes, creates and syncs
	LostRecords     uint64        // records that could not be written because of disk errors
	LastDiskError   string        // the most recent disk error, "" if none
	CorruptRecords  uint64        // corrupt records found while reading
	TruncatedBytes  int64         // bytes of torn tail cut off by recovery at Open
}

// Spool is an on-disk queue. Append, Read, Ack and Stats are safe for concurrent use;
// Read is meant for a single consumer.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	id       string
	segs     []*segment // sorted by first; the last is the active one
	f        *os.File   // active segment, opened for append; nil after a failed create
	sealed   bool       // the active file holds a torn write: start a new one
	buf      []byte     // encoded records not yet written
	bufFirst uint64     // sequence number of the first record in buf
	bufCount int
	next     uint64
	acked    uint64
	saved    uint64   // acked as last written to the state file
	stateF   *os.File // the state file, open for in-place updates
	total    int64
	dirty    bool
	lastSync time.Time
	samples  []sample
	closed   bool
	st       Stats
	lastLog  time.Time
	unlogged uint64

	notify chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup

	rmu  sync.Mutex // the reader's position
	rf   *os.File
	rseg *segment
	roff int64
	rseq uint64
	rbr  *bufio.Reader

	rarena []byte   // frames of the records Read returned last
	rrecs  []Record // the records Read returned last
}

// Open opens the spool in dir, creating it if needed, and recovers from a crash: a
// torn or corrupt record at the tail of the newest segment is cut off and reported in
// Stats.TruncatedBytes. Open fails only when dir cannot be used at all.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.MaxBytes > 0 && opts.SegmentBytes > opts.MaxBytes/4 {
		opts.SegmentBytes = max(opts.MaxBytes/4, 4096)
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Millisecond
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{
		dir:    dir,
		opts:   opts,
		log:    opts.Logger.With("spool", dir),
		notify: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		rbr:    bufio.NewReaderSize(nil, 256<<10),
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	s.lastSync = opts.Now()
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// ID returns the spool's forwarder id: random, created with the spool directory, and
// kept across restarts so a receiver can recognise resent records.
func (s *Spool) ID() string { return s.id }

// Notify returns a channel that receives a value after records are appended.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

func (s *Spool) recover() error {
	id, acked, haveState, err := readState(filepath.Join(s.dir, stateFile))
	if err != nil {
		s.log.Warn("spool: unreadable state file, starting a new forwarder id", "err", err)
		haveState = false
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || first == 0 {
			continue
		}
		s.segs = append(s.segs, &segment{first: first, path: filepath.Join(s.dir, name)})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].first < s.segs[j].first })

	if !haveState {
		// Without a state file the sequence numbers this id used before are unknown,
		// so a new id keeps a receiver from taking new records for resent ones.
		id = newID()
		acked = 0
		if len(s.segs) > 0 {
			acked = s.segs[0].first - 1
		}
	}
	s.id = id

	// Older segments: check the magic, note the first record's time.
	for i := 0; i < len(s.segs)-1; i++ {
		seg := s.segs[i]
		fi, err := os.Stat(seg.path)
		if err == nil {
			seg.size = fi.Size()
		}
		t, ok := s.firstTime(seg)
		if !ok {
			s.log.Error("spool: removing unreadable segment", "file", seg.path)
			s.st.CorruptRecords += s.segs[i+1].first - seg.first
			os.Remove(seg.path)
			s.segs = append(s.segs[:i], s.segs[i+1:]...)
			i--
			continue
		}
		s.samples = append(s.samples, sample{seg.first, t})
	}
	if len(s.segs) > 0 {
		if err := s.recoverTail(s.segs[len(s.segs)-1]); err != nil {
			return err
		}
	} else {
		s.next = acked + 1
	}
	if acked >= s.next {
		// The state says more was acknowledged than the segments hold (segments
		// removed by hand): keep counting from the state.
		for _, seg := range s.segs {
			os.Remove(seg.path)
		}
		s.segs = nil
		s.samples = nil
		s.next = acked + 1
	}
	if len(s.segs) > 0 && acked < s.segs[0].first-1 {
		acked = s.segs[0].first - 1
	}
	s.acked = acked
	if len(s.segs) == 0 {
		if err := s.createSegment(); err != nil {
			// A full disk must not keep oxd from starting: Append tries again.
			s.diskErrorLocked("create segment", err, 0)
		}
	} else {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.f = f
	}
	for _, seg := range s.segs {
		s.total += seg.size
	}
	s.deleteAckedLocked()
	if err := s.saveState(); err != nil {
		s.diskErrorLocked("save state", err, 0)
		s.saved = ^uint64(0) // the background goroutine tries again
	}
	return nil
}

// firstTime reads the append time of a segment's first record; ok is false when the
// segment does not start with the magic.
func (s *Spool) firstTime(seg *segment) (int64, bool) {
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [len(segMagic) + recHeaderLen]byte
	n, _ := io.ReadFull(f, b[:])
	if n < len(segMagic) || string(b[:len(segMagic)]) != segMagic {
		return 0, false
	}
	if n < len(b) {
		return s.opts.Now().UnixNano(), true
	}
	return int64(binary.BigEndian.Uint64(b[len(segMagic)+20:])), true
}

// recoverTail scans the newest segment, cuts it after its last valid record and sets
// the next sequence number.
func (s *Spool) recoverTail(seg *segment) error {
	data, err := os.ReadFile(seg.path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	off := 0
	if len(data) < len(segMagic) || string(data[:len(segMagic)]) != segMagic {
		s.log.Warn("spool: newest segment has no valid header, rewriting it", "file", seg.path, "bytes", len(data))
		s.st.TruncatedBytes += int64(len(data))
		if err := os.WriteFile(seg.path, []byte(segMagic), 0o644); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		seg.size = int64(len(segMagic))
		s.next = seg.first
		return nil
	}
	off = len(segMagic)
	want := seg.first
	var lastSample int64
	for off < len(data) {
		r, n, err := decodeRecord(data[off:])
		if err == nil && r.Seq != want {
			err = errCorrupt
		}
		if err != nil {
			cut := len(data) - off
			s.log.Warn("spool: cutting torn or corrupt tail", "file", seg.path, "offset", off, "bytes", cut, "reason", err)
			s.st.TruncatedBytes += int64(cut)
			if err := os.Truncate(seg.path, int64(off)); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			break
		}
		if len(s.samples) == 0 || r.Time-lastSample >= int64(time.Second) || r.Seq == seg.first {
			s.samples = append(s.samples, sample{r.Seq, r.Time})
			lastSample = r.Time
		}
		off += n
		want++
	}
	seg.size = int64(off)
	s.next = want
	return nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// createSegment starts a new active segment whose first record is s.next.
func (s *Spool) createSegment() error {
	path := filepath.Join(s.dir, segName(s.next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	s.f = f
	s.sealed = false
	s.segs = append(s.segs, &segment{first: s.next, path: path, size: int64(len(segMagic))})
	s.total += int64(len(segMagic))
	return nil
}

// Append adds one record (the two frames of an event) and returns its sequence
// number. The frames are copied. An error means the record was not stored (disk
// failure, record too large, closed spool); disk failures are also counted in Stats.
func (s *Spool) Append(meta, data []byte) (uint64, error) {
	if len(meta) > MaxMetaLen || len(data) > MaxDataLen {
		return 0, fmt.Errorf("spool: record too large (%d+%d bytes)", len(meta), len(data))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	n := recordLen(len(meta), len(data))
	s.makeRoomLocked(n)
	active := s.activeLocked()
	if s.f == nil || s.sealed || (active != nil && active.size+int64(len(s.buf))+n > s.opts.SegmentBytes && s.next > active.first) {
		if err := s.rotateLocked(); err != nil {
			s.diskErrorLocked("create segment", err, 1)
			s.mu.Unlock()
			return 0, fmt.Errorf("spool: %w", err)
		}
	}
	seq := s.next
	s.next++
	now := s.opts.Now().UnixNano()
	if len(s.buf) == 0 {
		s.bufFirst = seq
	}
	s.buf = appendRecord(s.buf, Record{Seq: seq, Time: now, Meta: meta, Data: data})
	s.bufCount++
	s.total += n
	s.st.Appended++
	if k := len(s.samples); k == 0 || now-s.samples[k-1].time >= int64(time.Second) || s.samples[k-1].seq <= s.acked {
		s.samples = append(s.samples, sample{seq, now})
	}
	var err error
	if len(s.buf) >= flushBytes {
		err = s.flushLocked()
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	return seq, nil
}

func (s *Spool) activeLocked() *segment {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}

// flushLocked writes the buffer to the active file. On failure the buffered records
// are discarded, counted as lost, and their sequence numbers reused.
func (s *Spool) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	active := s.activeLocked()
	var n int
	var err error
	if s.f == nil || active == nil {
		err = errors.New("no segment file")
	} else {
		n, err = s.f.Write(s.buf)
	}
	if err == nil {
		active.size += int64(n)
		s.dirty = true
		s.buf = s.buf[:0]
		s.bufCount = 0
		return nil
	}
	if n > 0 && s.f != nil {
		if terr := s.f.Truncate(active.size); terr != nil {
			s.sealed = true
		}
	}
	s.diskErrorLocked("write", err, uint64(s.bufCount))
	s.total -= int64(len(s.buf))
	s.next = s.bufFirst
	for k := len(s.samples); k > 0 && s.samples[k-1].seq >= s.bufFirst; k-- {
		s.samples = s.samples[:k-1]
	}
	s.buf = s.buf[:0]
	s.bufCount = 0
	return err
}

// diskErrorLocked counts a disk error and logs it, at most one line every 10 s.
func (s *Spool) diskErrorLocked(op string, err error, lost uint64) {
	s.st.DiskErrors++
	s.st.LostRecords += lost
	s.st.LastDiskError = fmt.Sprintf("%s: %v", op, err)
	s.unlogged += lost
	now := s.opts.Now()
	if now.Sub(s.lastLog) >= 10*time.Second {
		s.log.Error("spool: disk error, events lost", "op", op, "err", err,
			"lost", s.unlogged, "lost_total", s.st.LostRecords, "errors_total", s.st.DiskErrors)
		s.lastLog = now
		s.unlogged = 0
	}
}

// rotateLocked closes the active segment and starts a new one.
func (s *Spool) rotateLocked() error {
	if len(s.buf) > 0 {
		s.flushLocked() // counted on failure
	}
	if s.f != nil {
		if s.dirty {
			if err := s.f.Sync(); err != nil {
				s.diskErrorLocked("sync", err, 0)
			}
			s.dirty = false
		}
		s.f.Close()
		s.f = nil
	}
	if a := s.activeLocked(); a != nil && a.first == s.next {
		// The active segment holds no record: reuse its name.
		os.Remove(a.path)
		s.total -= a.size
		s.segs = s.segs[:len(s.segs)-1]
	}
	return s.createSegment()
}

// makeRoomLocked drops the oldest segments until n more bytes fit under MaxBytes.
func (s *Spool) makeRoomLocked(n int64) {
	if s.opts.MaxBytes <= 0 {
		return
	}
	for s.total+n > s.opts.MaxBytes {
		if len(s.segs) < 2 {
			a := s.activeLocked()
			if a == nil || s.next == a.first || s.rotateLocked() != nil {
				return
			}
			continue
		}
		s.dropOldestLocked()
	}
}

func (s *Spool) dropOldestLocked() {
	seg := s.segs[0]
	last := s.segs[1].first - 1
	var lost uint64
	if last > s.acked {
		lost = last - max(seg.first, s.acked+1) + 1
	}
	os.Remove(seg.path)
	s.total -= seg.size
	s.segs = s.segs[1:]
	s.st.DroppedSegments++
	s.st.DroppedRecords += lost
	if s.acked < last {
		s.acked = last
	}
	s.trimSamplesLocked()
	s.log.Error("spool: full, dropped oldest segment", "max_bytes", s.opts.MaxBytes,
		"events_lost", lost, "events_lost_total", s.st.DroppedRecords, "segments_dropped_total", s.st.DroppedSegments)
}

// Ack acknowledges every record up to and including seq. Segments whose records are
// all acknowledged are deleted. Acknowledging less than before does nothing.
func (s *Spool) Ack(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq >= s.next {
		seq = s.next - 1
	}
	if seq <= s.acked {
		return
	}
	s.acked = seq
	s.deleteAckedLocked()
	s.trimSamplesLocked()
}

// Acked returns the highest acknowledged sequence number.
func (s *Spool) Acked() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

func (s *Spool) deleteAckedLocked() {
	for len(s.segs) > 1 && s.segs[1].first-1 <= s.acked {
		os.Remove(s.segs[0].path)
		s.total -= s.segs[0].size
		s.segs = s.segs[1:]
	}
}

func (s *Spool) trimSamplesLocked() {
	i := 0
	for i+1 < len(s.samples) && s.samples[i+1].seq <= s.acked+1 {
		i++
	}
	s.samples = s.samples[i:]
}

// Read returns up to maxRecords contiguous records starting at sequence number from
// (or at the oldest record still in the spool, if from is older), holding at most about
// maxBytes of frames. It returns no records when none at or after from are stored yet;
// wait on Notify. The records' frames live in a buffer the spool reuses: they are
// valid until the next call to Read. A corrupt record ends the batch; the rest of its
// segment is skipped and counted in Stats.CorruptRecords.
func (s *Spool) Read(from uint64, maxRecords, maxBytes int) ([]Record, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if cap(s.rarena) < maxBytes+64<<10 {
		s.rarena = make([]byte, 0, maxBytes+64<<10)
	}
	out := s.rrecs[:0]
	arena := s.rarena[:0]
	defer func() {
		if cap(arena) > cap(s.rarena) {
			s.rarena = arena[:0]
		}
		s.rrecs = out[:0]
	}()
	for len(out) < maxRecords && len(arena) < maxBytes {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return out, ErrClosed
		}
		if len(s.segs) > 0 && from < s.segs[0].first {
			if len(out) > 0 { // the batch must stay contiguous
				s.mu.Unlock()
				return out, nil
			}
			from = s.segs[0].first
		}
		if from >= s.next || len(s.segs) == 0 {
			s.mu.Unlock()
			return out, nil
		}
		if len(s.buf) > 0 && from >= s.bufFirst {
			s.flushLocked()
			if from >= s.next {
				s.mu.Unlock()
				return out, nil
			}
		}
		i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].first > from }) - 1
		if i < 0 {
			s.mu.Unlock()
			return out, nil
		}
		seg := s.segs[i]
		limit := seg.size
		end := s.next // first sequence number after this segment
		active := i+1 == len(s.segs)
		if !active {
			end = s.segs[i+1].first
		}
		s.mu.Unlock()

		if seg.bad != 0 && from >= seg.bad {
			if len(out) > 0 {
				return out, nil
			}
			from = end
			continue
		}
		var err error
		if s.rseg != seg || s.rseq != from {
			err = s.seekLocked(seg, from, limit)
		}
		if err == nil {
			s.rbr.Reset(io.NewSectionReader(s.rf, s.roff, limit-s.roff))
			out, arena, err = s.readRecords(out, arena, maxRecords, maxBytes, limit)
			from = s.rseq
		}
		if err != nil {
			// Nothing after a corrupt record in this segment can be trusted.
			seg.bad = from
			s.mu.Lock()
			s.st.CorruptRecords += end - from
			s.mu.Unlock()
			s.log.Error("spool: corrupt record, skipping the rest of the segment", "file", seg.path,
				"seq", from, "events_lost", end-from, "err", err)
			s.closeReaderLocked()
			if len(out) > 0 {
				return out, nil
			}
			from = end
			continue
		}
		if s.roff >= limit && from < end && !active {
			// A closed segment ends early (a write that failed half-way): the
			// records it lacks were never stored.
			s.closeReaderLocked()
			if len(out) > 0 {
				return out, nil
			}
			from = end
		}
		// Otherwise loop: either the batch is full, or the next round reads the next
		// segment or the records the writer has added meanwhile.
	}
	return out, nil
}

// readRecords decodes records from the reader's buffered section, which ends at
// limit in the segment file.
func (s *Spool) readRecords(out []Record, arena []byte, maxRecords, maxBytes int, limit int64) ([]Record, []byte, error) {
	var hdr [recHeaderLen]byte
	for len(out) < maxRecords && len(arena) < maxBytes {
		if _, err := io.ReadFull(s.rbr, hdr[:]); err != nil {
			if err == io.EOF {
				return out, arena, nil
			}
			return out, arena, err
		}
		m, d, err := parseHeader(hdr[:])
		if err != nil {
			return out, arena, err
		}
		if s.roff+recordLen(m, d) > limit {
			// The header claims more than the file holds: no memory for it.
			return out, arena, errShort
		}
		start := len(arena)
		arena = append(arena, hdr[:]...)
		arena = slices.Grow(arena, m+d)[:start+recHeaderLen+m+d]
		if _, err := io.ReadFull(s.rbr, arena[start+recHeaderLen:]); err != nil {
			return out, arena[:start], errShort
		}
		r, n, err := decodeRecord(arena[start:])
		if err == nil && r.Seq != s.rseq {
			err = errCorrupt
		}
		if err != nil {
			return out, arena[:start], err
		}
		out = append(out, r)
		s.roff += int64(n)
		s.rseq++
	}
	return out, arena, nil
}

// seekLocked positions the reader at record seq of seg, scanning from the start.
func (s *Spool) seekLocked(seg *segment, seq uint64, limit int64) error {
	s.closeReaderLocked()
	f, err := os.Open(seg.path)
	if err != nil {
		return err
	}
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != segMagic {
		f.Close()
		return errCorrupt
	}
	s.rf, s.rseg, s.roff, s.rseq = f, seg, int64(len(segMagic)), seg.first
	s.rbr.Reset(io.NewSectionReader(f, s.roff, limit-s.roff))
	var hdr [recHeaderLen]byte
	for s.rseq < seq {
		if _, err := io.ReadFull(s.rbr, hdr[:]); err != nil {
			s.closeReaderLocked()
			return errShort
		}
		m, d, err := parseHeader(hdr[:])
		if err != nil {
			s.closeReaderLocked()
			return err
		}
		if _, err := s.rbr.Discard(m + d); err != nil {
			s.closeReaderLocked()
			return errShort
		}
		s.roff += recordLen(m, d)
		s.rseq++
	}
	return nil
}

func (s *Spool) closeReaderLocked() {
	if s.rf != nil {
		s.rf.Close()
	}
	s.rf, s.rseg, s.roff, s.rseq = nil, nil, 0, 0
}

// Flush writes buffered records to the segment file (to the operating system, so
// they survive the process being killed), without fsync.
func (s *Spool) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.flushLocked(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Sync writes buffered records to the segment file and fsyncs it, so they survive a
// machine crash.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.flushLocked(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	if s.f == nil || !s.dirty {
		return nil
	}
	s.dirty = false
	s.lastSync = s.opts.Now()
	if err := s.f.Sync(); err != nil {
		s.diskErrorLocked("sync", err, 0)
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func (s *Spool) background() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.flushLocked()
		var f *os.File
		if s.dirty && s.f != nil && s.opts.Now().Sub(s.lastSync) >= s.opts.SyncInterval {
			f = s.f
			s.dirty = false
			s.lastSync = s.opts.Now()
		}
		saveErr := error(nil)
		if s.saved != s.acked {
			if saveErr = s.saveState(); saveErr != nil {
				s.saved = ^uint64(0)
			}
		}
		s.mu.Unlock()
		if saveErr != nil {
			s.mu.Lock()
			s.diskErrorLocked("save state", saveErr, 0)
			s.mu.Unlock()
		}
		if f != nil {
			// fsync outside the lock so appends go on; a rotation may close f meanwhile
			// (after syncing it), which makes this Sync fail harmlessly.
			if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
				s.mu.Lock()
				s.diskErrorLocked("sync", err, 0)
				s.mu.Unlock()
			}
		}
	}
}

// Stats returns a snapshot of the spool's state and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.ID = s.id
	st.Bytes = s.total
	st.Segments = len(s.segs)
	st.NextSeq = s.next
	st.Acked = s.acked
	if s.next-1 > s.acked {
		st.Unacked = s.next - 1 - s.acked
		if len(s.samples) > 0 {
			st.OldestUnacked = max(0, time.Duration(s.opts.Now().UnixNano()-s.samples[0].time))
		}
	}
	return st
}

// Close writes and fsyncs buffered records, saves the acknowledgement state and
// closes the files.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()

	s.rmu.Lock()
	s.closeReaderLocked()
	s.rmu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if err := s.flushLocked(); err != nil {
		errs = append(errs, err)
	}
	if s.f != nil {
		s.dirty = true
		if err := s.syncLocked(); err != nil {
			errs = append(errs, err)
		}
		if err := s.f.Close(); err != nil {
			errs = append(errs, err)
		}
		s.f = nil
	}
	if err := s.saveState(); err != nil {
		errs = append(errs, err)
	}
	if s.stateF != nil {
		s.stateF.Close()
		s.stateF = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// The state file holds the forwarder id and the acknowledged sequence number in a
// fixed-width layout, so an update is one small write in place:
//
//	id <32 hex>
//	acked <20 decimal digits>
//
// It is not fsynced: after a machine crash a stale value only makes the forwarder
// resend what the receiver already has, and the receiver drops those as duplicates.
// A state file that cannot be parsed gives the spool a new id (see Open).
func (s *Spool) saveState() error {
	body := fmt.Sprintf("id %s\nacked %020d\n", s.id, s.acked)
	if s.stateF == nil {
		path := filepath.Join(s.dir, stateFile)
		tmp := path + ".tmp"
		// The first write of a run replaces the file whole (its layout may differ);
		// later ones overwrite it in place.
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		s.stateF = f
	} else if _, err := s.stateF.WriteAt([]byte(body), 0); err != nil {
		return err
	}
	s.saved = s.acked
	return nil
}

func readState(path string) (id string, acked uint64, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	var haveID, haveAcked bool
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "id":
			if _, err := hex.DecodeString(v); err != nil || len(v) != 32 {
				return "", 0, false, fmt.Errorf("bad id %q", v)
			}
			id, haveID = v, true
		case "acked":
			acked, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", 0, false, fmt.Errorf("bad acked %q", v)
			}
			haveAcked = true
		}
	}
	if !haveID || !haveAcked {
		return "", 0, false, fmt.Errorf("incomplete state file %s", path)
	}
	return id, acked, true, nil
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
