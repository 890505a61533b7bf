package main

import (
	"strings"
	"testing"
	"time"
)

// waitLog waits until x's log holds every one of parts on one line.
func waitLog(t *testing.T, x *testOxd, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for line := range strings.Lines(x.out.String()) {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, x.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSpooledForwarderAtACollectionPortSaysSoInItsLog(t *testing.T) {
	central := startOxd(t, nil)
	edge := startEdge(t, []string{central.collect}, nil)
	waitLog(t, edge, "wrong kind of port", "collection port", "--link")
	// Once per target, not on every retry.
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(edge.out.String(), "link to target failed") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(edge.out.String(), "wrong kind of port"); n != 1 {
		t.Errorf("hint logged %d times", n)
	}
}

func TestPushForwarderAtALinkPortSaysSoInItsLog(t *testing.T) {
	central := startCentral(t, nil)
	edge := startOxd(t, func(o *options, d *daemon) { o.forward = central.linkAddr(); o.logPath = "" })
	waitLog(t, edge, "wrong kind of port", "link port", "--spool-path")
}
