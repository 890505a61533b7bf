package ox

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// takeQueued removes every event queued in s and returns its meta and data
// frames, parsing the ZMTP framing of the queue's chunks.
func takeQueued(t testing.TB, s *Sender) [][2][]byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2][]byte
	for _, c := range s.q {
		b := c.buf
		for len(b) > 0 {
			var msg [2][]byte
			for i := range msg {
				if len(b) < 2 {
					t.Fatalf("chunk ends inside a frame header")
				}
				flags, size, hdr := b[0], int(b[1]), 2
				if flags&0x02 != 0 {
					if len(b) < 9 {
						t.Fatalf("chunk ends inside a long frame header")
					}
					size, hdr = int(uint64(b[1])<<56|uint64(b[2])<<48|uint64(b[3])<<40|uint64(b[4])<<32|
						uint64(b[5])<<24|uint64(b[6])<<16|uint64(b[7])<<8|uint64(b[8])), 9
				}
				if more := flags&0x01 != 0; more != (i == 0) || len(b) < hdr+size {
					t.Fatalf("bad frame %d in chunk: flags %#x, size %d of %d bytes left", i, flags, size, len(b)-hdr)
				}
				msg[i] = bytes.Clone(b[hdr : hdr+size])
				b = b[hdr+size:]
			}
			out = append(out, msg)
		}
	}
	if len(out) != s.n {
		t.Fatalf("chunks hold %d events, the queue counts %d", len(out), s.n)
	}
	s.release(len(s.q))
	return out
}

// Events queued while no collector is up gather in chunks: small ones many to a
// chunk, one larger than a chunk in a chunk of its own, all in order and counted.
func TestSenderQueueGathersEventsInChunks(t *testing.T) {
	s := newSender("nowhere", &SenderOptions{QueueSize: 1000, QueueBytes: 1 << 30}, func(context.Context, string) (*senderConn, error) {
		return nil, errors.New("no collector")
	})
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Close(ctx)
	}()
	var want [][2][]byte
	for i := 0; i < 600; i++ {
		meta, data := testEvent(t, i)
		if i == 300 {
			data = append(data, bytes.Repeat([]byte{0xc0}, chunkSize)...) // trailing nils: size only
		}
		if !s.TrySend(meta, data) {
			t.Fatalf("TrySend %d refused", i)
		}
		want = append(want, [2][]byte{meta, data})
	}
	s.mu.Lock()
	chunks, bytesQueued := len(s.q), s.bytes
	s.mu.Unlock()
	if chunks < 3 {
		t.Errorf("600 events with one over %d bytes in %d chunks, want at least 3", chunkSize, chunks)
	}
	if st := s.Stats(); st.Queued != 600 || st.QueuedBytes != bytesQueued {
		t.Errorf("stats = %+v, want 600 queued", st)
	}
	got := takeQueued(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i][0], want[i][0]) || !bytes.Equal(got[i][1], want[i][1]) {
			t.Fatalf("event %d changed in the queue", i)
		}
	}
	if st := s.Stats(); st.Queued != 0 || st.QueuedBytes != 0 {
		t.Errorf("after taking everything, stats = %+v", st)
	}
}
