package fwdlink

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

func testEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Meta: []byte(fmt.Sprintf("meta %d", i)), Data: bytes.Repeat([]byte{'x'}, i%300)}
	}
	return evs
}

func TestBatchFrameRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			evs := testEvents(100)
			payload := appendEvents(nil, evs)
			f := Frame{Type: TypeBatch, ID: "abc-1", Seq: 42, Count: 100, Payload: payload}
			if compress {
				var c compressor
				f.Flags = FlagDeflate
				f.Payload = append([]byte(nil), c.deflate(payload)...)
				if len(f.Payload) >= len(payload) {
					t.Fatalf("repetitive payload did not shrink: %d -> %d", len(payload), len(f.Payload))
				}
			}
			got, err := DecodeFrame(AppendFrame(nil, f))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != f.ID || got.Seq != 42 || got.Count != 100 || got.Flags != f.Flags {
				t.Fatalf("header differs: %+v", got)
			}
			back, err := BatchEvents(got)
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				if !bytes.Equal(back[i].Meta, evs[i].Meta) || !bytes.Equal(back[i].Data, evs[i].Data) {
					t.Fatalf("event %d differs", i)
				}
			}
		})
	}
}

func TestDecodeFrameRejectsMalformed(t *testing.T) {
	good := AppendFrame(nil, Frame{Type: TypeAck, ID: "f1", Seq: 7})
	batch := func(count uint32, payload []byte, flags byte) []byte {
		return AppendFrame(nil, Frame{Type: TypeBatch, ID: "f1", Seq: 1, Count: count, Payload: payload, Flags: flags})
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrFrame},
		{"short", good[:10], ErrFrame},
		{"bad magic", append([]byte("XXX"), good[3:]...), ErrFrame},
		{"future version", append([]byte("OXF\x02"), good[4:]...), ErrVersion},
		{"unknown type", AppendFrame(nil, Frame{Type: 99, ID: "f1"}), ErrFrame},
		{"ack with payload", AppendFrame(nil, Frame{Type: TypeAck, ID: "f1", Payload: []byte("x")}), ErrFrame},
		{"no forwarder id", AppendFrame(nil, Frame{Type: TypeHello}), ErrFrame},
		{"id with a newline", AppendFrame(nil, Frame{Type: TypeHello, ID: "a\nb"}), ErrFrame},
		{"id length past the end", []byte("OXF\x01\x03\x00\x40abc"), ErrFrame},
		{"batch of zero", batch(0, nil, 0), ErrFrame},
		{"batch at sequence zero", AppendFrame(nil, Frame{Type: TypeBatch, ID: "f1", Count: 1, Payload: make([]byte, 8)}), ErrFrame},
		{"batch with unknown flag", batch(1, make([]byte, 8), 0x80), ErrFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeFrame(tc.frame); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	events := []struct {
		name  string
		frame []byte
	}{
		{"count larger than the payload", batch(5, appendEvents(nil, testEvents(2)), 0)},
		{"bytes after the last event", batch(1, append(appendEvents(nil, testEvents(1)), 0), 0)},
		{"field length past the end", batch(1, []byte{0, 0, 0, 9, 1, 2, 3, 4}, 0)},
		{"not deflate", batch(1, []byte("definitely not deflate data"), FlagDeflate)},
	}
	for _, tc := range events {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodeFrame(tc.frame)
			if err != nil {
				t.Fatalf("header should decode: %v", err)
			}
			if _, err := BatchEvents(f); !errors.Is(err, ErrFrame) {
				t.Fatalf("err = %v, want ErrFrame", err)
			}
		})
	}
}

func TestDeflateBombIsRefused(t *testing.T) {
	var c compressor
	huge := make([]byte, 1<<20)
	f := Frame{Type: TypeBatch, ID: "f1", Seq: 1, Count: 1, Flags: FlagDeflate, Payload: c.deflate(huge)}
	if len(f.Payload) > 4096 {
		t.Fatalf("1 MiB of zeros deflated to %d bytes", len(f.Payload))
	}
	if _, err := batchEvents(f, 64<<10); !errors.Is(err, ErrFrame) {
		t.Fatalf("err = %v, want ErrFrame", err)
	}
}

// A peer announcing a huge ZMTP frame is cut off before zmq4 allocates it.
func TestGuardRefusesHugeZMTPFrames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		b, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer b.Close()
		l, err := openLink(b, zmq4.Router, true, 5*time.Second)
		if err != nil {
			done <- err
			return
		}
		_, err = l.recv(5 * time.Second)
		done <- err
	}()
	// Act as a DEALER by hand: greeting, READY, then a frame header claiming 2^60 bytes.
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cl, err := openLink(a, zmq4.Dealer, false, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{0x02, 0x10, 0, 0, 0, 0, 0, 0, 0}
	go cl.raw.Write(hdr)
	select {
	case err := <-done:
		if !errors.Is(err, errFrameTooLarge) {
			t.Fatalf("err = %v, want errFrameTooLarge", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver did not refuse the frame")
	}
}

func FuzzDecodeFrame(f *testing.F) {
	var c compressor
	payload := appendEvents(nil, testEvents(3))
	f.Add(AppendFrame(nil, Frame{Type: TypeBatch, ID: "f1", Seq: 1, Count: 3, Payload: payload}))
	f.Add(AppendFrame(nil, Frame{Type: TypeBatch, ID: "f1", Seq: 9, Count: 3, Flags: FlagDeflate, Payload: c.deflate(payload)}))
	f.Add(AppendFrame(nil, Frame{Type: TypeAck, ID: "f1", Seq: 5}))
	f.Add(AppendFrame(nil, Frame{Type: TypeError, Payload: []byte("no")}))
	f.Add([]byte("OXF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if fr.Type == TypeBatch {
			evs, err := BatchEvents(fr)
			if err == nil && len(evs) != int(fr.Count) {
				t.Fatalf("%d events for count %d", len(evs), fr.Count)
			}
		}
		if !bytes.Equal(AppendFrame(nil, fr), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
