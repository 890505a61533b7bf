package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// Whatever the bytes, reading them for a report accounts for every byte (as an
// event or as a skipped range), and counting and drawing them does not fail.
func FuzzReportInput(f *testing.F) {
	for _, fr := range testenv.WireFrames(f) {
		f.Add(fr.Data)
		f.Add(append(append([]byte{0xc1, 0x92}, fr.Data...), fr.Data[:len(fr.Data)/2]...))
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'x', 0x80, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := newFrameReader(bytes.NewReader(in))
		s := newSummary("exception", []byField{{spec: "a.b", path: []string{"a", "b"}}, {spec: "host", path: []string{"host"}}})
		var seen int64
		for {
			raw, sk, err := fr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read error from a bytes.Reader: %v", err)
			}
			if sk != nil {
				if sk.Offset != seen || sk.Bytes <= 0 {
					t.Fatalf("skip %+v at byte %d", sk, seen)
				}
				seen += sk.Bytes
				s.skipped("fuzz", *sk)
				continue
			}
			seen += int64(len(raw))
			s.add(raw)
		}
		if seen != int64(len(in)) {
			t.Fatalf("accounted for %d bytes of %d", seen, len(in))
		}
		r := s.result()
		writeHTML(io.Discard, r)
		writeText(io.Discard, r)
	})
}
