package fwdlink

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueox/ox/internal/spool"
)

// BenchmarkLink measures the link alone: a spool of 287-byte events forwarded over
// loopback to a receiver whose delivery only counts.
//
//	go test -run '^$' -bench Link ./internal/fwdlink/
func BenchmarkLink(b *testing.B) {
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			var got atomic.Int64
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			r, err := NewReceiver(ReceiverOptions{
				StatePath: filepath.Join(b.TempDir(), "state"),
				Deliver: func(_ context.Context, _ string, evs []Event) error {
					got.Add(int64(len(evs)))
					return nil
				},
				Logger: quiet(),
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go r.Serve(ctx, ln)
			sp, err := spool.Open(b.TempDir(), spool.Options{Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer sp.Close()
			f, err := NewForwarder(sp, ForwarderOptions{Targets: []string{ln.Addr().String()}, Compress: compress, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			go f.Run(ctx)
			meta, data := make([]byte, 137), []byte(fmt.Sprintf("%150d", 42))
			const n = 100000
			b.ResetTimer()
			total := int64(0)
			for range b.N {
				for range n {
					if _, err := sp.Append(meta, data); err != nil {
						b.Fatal(err)
					}
				}
				total += n
				for got.Load() < total {
					time.Sleep(100 * time.Microsecond)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
