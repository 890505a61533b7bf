package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortIsBindableAndOutsideTheEphemeralRange(t *testing.T) {
	lo, hi, known := ephemeralRange()
	for range 20 {
		p := FreePort(t)
		if known && p >= lo && p <= hi {
			t.Fatalf("port %d is in the ephemeral range %d-%d", p, lo, hi)
		}
		if p < 1024 || p > 65535 {
			t.Fatalf("port %d", p)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
