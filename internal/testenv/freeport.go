package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// quietPort returns a loopback TCP port that is free now and lies outside the
// kernel's ephemeral range. The kernel hands out ports from that range to every
// outgoing connection and to every listener on port 0, in any process, so a port
// taken from it can be given to someone else between the test's look and the
// server's bind: on a busy machine running many test suites at once, oxd then
// failed to start with "address already in use". Outside the range only another
// caller picking at random can take it, which the width of the range makes rare.
// ok is false where the range is unknown (not Linux) or leaves no room.
func quietPort() (port int, ok bool) {
	lo, hi, ok := ephemeralRange()
	if !ok {
		return 0, false
	}
	const floor, ceil = 10000, 65535 // above well-known and registered-in-practice ports
	aboveFrom := max(hi+1, floor)
	below, above := max(lo-floor, 0), max(ceil-aboveFrom+1, 0)
	if below+above < 1000 {
		return 0, false
	}
	for range 50 {
		p := rand.IntN(below + above)
		if p < below {
			p += floor
		} else {
			p = aboveFrom + (p - below)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p, true
	}
	return 0, false
}

// ephemeralRange reads the kernel's range of ports for automatic assignment.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}
