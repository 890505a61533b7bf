package main

import (
	"testing"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/oxdtest"
)

// send publishes one event as oxd does: the type its meta frame names, then the
// data frame.
func send(t *testing.T, c *oxdtest.StandIn, ev [2][]byte) {
	t.Helper()
	m, err := ox.ParseMeta(ev[0])
	if err != nil {
		t.Fatal(err)
	}
	c.Publish(t, m.Type, ev[1])
}
