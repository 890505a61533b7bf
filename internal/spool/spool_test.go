package spool

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func meta(i int) []byte { return []byte(fmt.Sprintf("meta-%d", i)) }
func data(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 50+i%100) }

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := s.Append(meta(i), data(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// readAll reads every record from seq on, in batches, and checks the sequence numbers
// are consecutive.
func readAll(t *testing.T, s *Spool, from uint64) []Record {
	t.Helper()
	var all []Record
	for range 100000 {
		recs, err := s.Read(from, 100, 1<<20)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(recs) == 0 {
			return all
		}
		for i, r := range recs {
			if i > 0 && r.Seq != recs[i-1].Seq+1 {
				t.Fatalf("batch not contiguous: %d after %d", r.Seq, recs[i-1].Seq)
			}
		}
		for _, r := range recs { // valid until the next Read: keep copies
			r.Meta = bytes.Clone(r.Meta)
			r.Data = bytes.Clone(r.Data)
			all = append(all, r)
		}
		from = recs[len(recs)-1].Seq + 1
	}
	t.Fatal("readAll did not finish")
	return nil
}

func checkRecords(t *testing.T, recs []Record, firstEvent int, firstSeq uint64) {
	t.Helper()
	for k, r := range recs {
		i := firstEvent + k
		if r.Seq != firstSeq+uint64(k) {
			t.Fatalf("record %d: seq %d, want %d", k, r.Seq, firstSeq+uint64(k))
		}
		if !bytes.Equal(r.Meta, meta(i)) || !bytes.Equal(r.Data, data(i)) {
			t.Fatalf("record %d (seq %d): frames differ", k, r.Seq)
		}
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(m)
	return m
}

func TestAppendReadAckDeletesAcknowledgedSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 4096})
	appendN(t, s, 0, 1000)
	recs := readAll(t, s, 1)
	if len(recs) != 1000 {
		t.Fatalf("read %d records, want 1000", len(recs))
	}
	checkRecords(t, recs, 0, 1)
	before := len(segFiles(t, dir))
	if before < 10 {
		t.Fatalf("expected many segments, got %d", before)
	}
	s.Ack(500)
	mid := len(segFiles(t, dir))
	if mid >= before || mid < 2 {
		t.Fatalf("after acking half: %d segments (before %d)", mid, before)
	}
	if got := readAll(t, s, 1); len(got) == 0 || got[0].Seq > 501 {
		t.Fatalf("unacknowledged records must stay readable, first is %v", got[0].Seq)
	}
	s.Ack(1000)
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("after acking all: %d segments, want the active one only", n)
	}
	st := s.Stats()
	if st.Unacked != 0 || st.Acked != 1000 || st.NextSeq != 1001 || st.OldestUnacked != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReadHonoursLimits(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	appendN(t, s, 0, 50)
	recs, _ := s.Read(1, 7, 1<<20)
	if len(recs) != 7 {
		t.Fatalf("maxRecords: got %d", len(recs))
	}
	recs, _ = s.Read(11, 100, 1)
	if len(recs) != 1 || recs[0].Seq != 11 {
		t.Fatalf("maxBytes: got %d records", len(recs))
	}
	recs, _ = s.Read(51, 100, 1<<20)
	if len(recs) != 0 {
		t.Fatalf("past the end: got %d records", len(recs))
	}
}

func TestRestartResumesAfterAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 8192, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	appendN(t, s, 0, 300)
	s.Ack(120)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir, Options{SegmentBytes: 8192})
	if s2.ID() != id {
		t.Fatalf("id changed across restart: %s -> %s", id, s2.ID())
	}
	if s2.Acked() != 120 {
		t.Fatalf("acked %d after restart, want 120", s2.Acked())
	}
	recs := readAll(t, s2, s2.Acked()+1)
	checkRecords(t, recs, 120, 121)
	if len(recs) != 180 {
		t.Fatalf("got %d records after restart, want 180", len(recs))
	}
	seq, _ := s2.Append(meta(300), data(300))
	if seq != 301 {
		t.Fatalf("next seq after restart %d, want 301", seq)
	}
}

func TestRecoveryCutsTornOrCorruptTail(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(b []byte) []byte
		keep    int // records that must survive of 20
		cutSome bool
	}{
		{"clean", func(b []byte) []byte { return b }, 20, false},
		{"half a header", func(b []byte) []byte { return append(b, 1, 2, 3, 4, 5) }, 20, true},
		{"last record cut short", func(b []byte) []byte { return b[:len(b)-10] }, 19, true},
		{"last record's byte flipped", func(b []byte) []byte { b[len(b)-3] ^= 0xff; return b }, 19, true},
		{"garbage after the records", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xff}, 100)...) }, 20, true},
		{"zero-filled tail", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 20, true},
		{"huge length claimed", func(b []byte) []byte {
			return append(b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		}, 20, true},
		{"empty file", func(b []byte) []byte { return nil }, 0, false},
		{"magic only", func(b []byte) []byte { return b[:len(segMagic)] }, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 0, 20)
			s.Close()
			files := segFiles(t, dir)
			last := files[len(files)-1]
			b, _ := os.ReadFile(last)
			if err := os.WriteFile(last, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			s2 := open(t, dir, Options{})
			st := s2.Stats()
			if (st.TruncatedBytes > 0) != tc.cutSome {
				t.Fatalf("TruncatedBytes %d, want cut=%v", st.TruncatedBytes, tc.cutSome)
			}
			recs := readAll(t, s2, 1)
			if len(recs) != tc.keep {
				t.Fatalf("%d records survived, want %d", len(recs), tc.keep)
			}
			checkRecords(t, recs, 0, 1)
			seq, err := s2.Append(meta(tc.keep), data(tc.keep))
			if err != nil || seq != uint64(tc.keep)+1 {
				t.Fatalf("append after recovery: seq %d err %v, want %d", seq, err, tc.keep+1)
			}
			if got := readAll(t, s2, 1); len(got) != tc.keep+1 {
				t.Fatalf("after append: %d records", len(got))
			}
		})
	}
}

func TestCorruptRecordInOlderSegmentIsSkippedAndCounted(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 4096, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 200)
	s.Close()
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("want several segments, got %d", len(files))
	}
	b, _ := os.ReadFile(files[0])
	b[len(segMagic)+recHeaderLen+200] ^= 0x55 // inside the second or third record
	os.WriteFile(files[0], b, 0o644)

	s2 := open(t, dir, Options{SegmentBytes: 4096})
	recs := readAll(t, s2, 1)
	st := s2.Stats()
	if st.CorruptRecords == 0 {
		t.Fatal("corruption not counted")
	}
	if uint64(len(recs))+st.CorruptRecords != 200 {
		t.Fatalf("read %d + corrupt %d != 200", len(recs), st.CorruptRecords)
	}
	if recs[len(recs)-1].Seq != 200 {
		t.Fatalf("later segments must still be read, last seq %d", recs[len(recs)-1].Seq)
	}
}

func TestMaxBytesDropsOldestAndCounts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxBytes: 64 << 10})
	appendN(t, s, 0, 3000) // about 400 KiB
	st := s.Stats()
	if st.DroppedRecords == 0 || st.DroppedSegments == 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	if st.Bytes > 64<<10 {
		t.Fatalf("spool holds %d bytes, over the 64 KiB limit", st.Bytes)
	}
	recs := readAll(t, s, 1)
	if uint64(len(recs))+st.DroppedRecords != 3000 {
		t.Fatalf("kept %d + dropped %d != 3000", len(recs), st.DroppedRecords)
	}
	if recs[len(recs)-1].Seq != 3000 {
		t.Fatalf("newest record must survive, last is %d", recs[len(recs)-1].Seq)
	}
	if st.Acked+1 != recs[0].Seq {
		t.Fatalf("dropped records count as acknowledged: acked %d, oldest %d", st.Acked, recs[0].Seq)
	}
}

func TestDiskErrorsAreCountedAndAppendingGoesOn(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{FlushInterval: time.Hour})
	appendN(t, s, 0, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	s.mu.Lock()
	good := s.f
	s.f = full
	s.mu.Unlock()
	appendN(t, s, 10, 5)
	if err := s.Flush(); err == nil {
		t.Fatal("Flush on a full disk returned no error")
	}
	st := s.Stats()
	if st.DiskErrors == 0 || st.LostRecords != 5 || st.LastDiskError == "" {
		t.Fatalf("disk error not counted: %+v", st)
	}
	s.mu.Lock()
	s.f = good
	s.mu.Unlock()
	full.Close()
	// The lost records' sequence numbers are reused: no gap for the receiver.
	appendN(t, s, 10, 5)
	recs := readAll(t, s, 1)
	checkRecords(t, recs, 0, 1)
	if len(recs) != 15 {
		t.Fatalf("got %d records, want 15", len(recs))
	}
}

func TestOldestUnackedAge(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := open(t, t.TempDir(), Options{Now: clock})
	appendN(t, s, 0, 10) // seq 1..10 at t0
	advance(5 * time.Second)
	appendN(t, s, 10, 10) // seq 11..20 at t0+5s
	advance(5 * time.Second)
	if age := s.Stats().OldestUnacked; age != 10*time.Second {
		t.Fatalf("age %v, want 10s", age)
	}
	s.Ack(10)
	if age := s.Stats().OldestUnacked; age != 5*time.Second {
		t.Fatalf("age after ack %v, want 5s", age)
	}
	s.Ack(20)
	if age := s.Stats().OldestUnacked; age != 0 {
		t.Fatalf("age with nothing unacked %v", age)
	}
}

func TestMissingStateFileGivesNewID(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{Logger: quiet()})
	id := s.ID()
	appendN(t, s, 0, 5)
	s.Close()
	os.Remove(filepath.Join(dir, stateFile))
	s2 := open(t, dir, Options{})
	if s2.ID() == id {
		t.Fatal("without a state file earlier sequence numbers are unknown: the id must change")
	}
	if got := readAll(t, s2, 1); len(got) != 5 {
		t.Fatalf("records must survive, got %d", len(got))
	}
}

func TestConcurrentAppendReadAck(t *testing.T) {
	s := open(t, t.TempDir(), Options{SegmentBytes: 16 << 10, FlushInterval: time.Millisecond})
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := s.Append(meta(i), data(i)); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	}()
	next := uint64(1)
	deadline := time.Now().Add(60 * time.Second)
	for next <= n && time.Now().Before(deadline) {
		recs, err := s.Read(next, 500, 256<<10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			select {
			case <-s.Notify():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		checkRecords(t, recs, int(next-1), next)
		next = recs[len(recs)-1].Seq + 1
		s.Ack(next - 1)
	}
	wg.Wait()
	if next != n+1 {
		t.Fatalf("read up to %d, want %d", next-1, n)
	}
	if st := s.Stats(); st.Segments != 1 || st.Unacked != 0 {
		t.Fatalf("after all acked: %+v", st)
	}
}

func TestClosedSpoolRefuses(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{Logger: quiet()})
	s.Close()
	if _, err := s.Append(nil, nil); err != ErrClosed {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := s.Read(1, 1, 1); err != ErrClosed {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, Record{Seq: 1, Time: 2, Meta: []byte("m"), Data: []byte("data")}))
	f.Add(appendRecord(nil, Record{Seq: 1 << 60}))
	f.Add([]byte{})
	f.Add(make([]byte, recHeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) || n < recHeaderLen {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		again := appendRecord(nil, r)
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// Trouble with the disk at start (here: directories where the first segment and the
// state file must go) does not stop the spool from opening; appends fail and are
// counted until the disk is usable, then work.
func TestOpenSurvivesAnUnwritableDisk(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{segName(1), stateFile} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, dir, Options{})
	if _, err := s.Append(meta(0), data(0)); err == nil {
		t.Fatal("Append succeeded where no segment can be created")
	}
	st := s.Stats()
	if st.DiskErrors == 0 || st.LostRecords == 0 || st.LastDiskError == "" {
		t.Fatalf("stats %+v", st)
	}
	os.Remove(filepath.Join(dir, segName(1)))
	os.Remove(filepath.Join(dir, stateFile))
	appendN(t, s, 0, 10)
	recs := readAll(t, s, 1)
	checkRecords(t, recs, 0, 1)
	if len(recs) != 10 {
		t.Fatalf("%d records after the disk recovered", len(recs))
	}
}
