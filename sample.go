package ox

import (
	"fmt"
	"math/rand/v2"
)

// sampled decides whether e is recorded under Sample(level, rate), PROTOCOL.md §5.
// given is the name e was opened with.
func (e *Event) sampled(cfg *config, given, level string, rate float64) bool {
	var owner *Event // the event whose decision this one shares; nil: decide alone
	switch level {
	case ".", given, e.typ:
	case "..":
		owner = e.parent
	case "^":
		owner = bottom(e.prev)
	default:
		for o := e.prev; o != nil; o = o.prev {
			if o.typ == level {
				owner = o
				break
			}
		}
		if owner == nil {
			reportError(fmt.Errorf("ox: event %s samples at level %q, which is not an open event; deciding per event", e.typ, level))
		}
	}
	if owner == nil {
		return coin(cfg, rate)
	}
	return owner.sampledFor(cfg, e.typ, rate)
}

// sampledFor returns the decision e holds for its sub-events named typ, making it
// on first use.
func (e *Event) sampledFor(cfg *config, typ string, rate float64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.samples[typ]; ok {
		return v
	}
	v := coin(cfg, rate)
	if e.samples == nil {
		e.samples = make(map[string]bool, 2)
	}
	e.samples[typ] = v
	return v
}

// coin returns true with probability rate.
func coin(cfg *config, rate float64) bool {
	switch {
	case rate >= 1:
		return true
	case !(rate > 0): // also NaN
		return false
	case cfg.coin != nil:
		return cfg.coin() < rate
	}
	return rand.Float64() < rate
}
