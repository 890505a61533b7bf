package zmtp

import (
	"errors"
	"fmt"
	"time"

	"github.com/blueox/ox/internal/membudget"
)

// Budget bounds the memory of messages being received, over every connection
// that shares it: without it, a thousand connections each holding a half-sent
// maximal message hold a thousand half messages. Each connection may hold
// FreePerConn bytes of an incomplete message without asking; past that, a message
// reserves its bytes from the budget as they arrive, and gives them back when
// ReadMsg returns it (the caller then owns the memory; see the collector's bounded
// queues). A message that finds no room within the wait is refused: ReadMsg returns
// ErrBusy and the connection must be closed.
type Budget struct {
	b    *membudget.Budget
	wait time.Duration
}

// FreePerConn is what a connection's incomplete message may hold without
// reserving from the Budget: ordinary events never touch it.
const FreePerConn = 32 << 10

// ErrBusy is returned by ReadMsg when a large message found no room in the Budget
// in time. The connection is mid-message and must be closed.
var ErrBusy = errors.New("zmtp: no memory for a large message in time")

// NewBudget returns a budget of max bytes; a message waits up to wait for room.
func NewBudget(max int64, wait time.Duration) *Budget {
	return &Budget{b: membudget.New(max), wait: wait}
}

// Used reports the bytes reserved now.
func (b *Budget) Used() int64 { return b.b.Used() }

func (b *Budget) take(n int64) error {
	if !b.b.Take(n, b.wait) {
		return fmt.Errorf("%w (%d bytes reserved of %d)", ErrBusy, b.b.Used(), b.b.Max())
	}
	return nil
}

func (b *Budget) give(n int64) { b.b.Give(n) }

// SetBudget makes the connection's messages reserve their memory from b.
func (c *Conn) SetBudget(b *Budget) { c.budget = b }

// reserve accounts n more bytes of the message being read; past FreePerConn they
// come from the budget.
func (c *Conn) reserve(n int) error {
	c.msgBytes += int64(n)
	if c.budget == nil {
		return nil
	}
	over := c.msgBytes - FreePerConn - c.held
	if over <= 0 {
		return nil
	}
	if err := c.budget.take(over); err != nil {
		return err
	}
	c.held += over
	return nil
}

// release ends a message's accounting.
func (c *Conn) release() {
	if c.budget != nil {
		c.budget.give(c.held)
	}
	c.held, c.msgBytes = 0, 0
}
