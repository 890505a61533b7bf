package ox

import (
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
)

// resolveName applies PROTOCOL.md §3: given the innermost open event cur (the top
// of the stack, nil when none) and the name a context is opened with, it returns
// the resulting type name and the event it descends from and shares an id with
// (nil: a new tree). An invalid name is an error wrapping ErrInvalidName; parent
// is then set when the name was relative to an open event, so that the caller can
// tell an invalid name from a child of an invalid event.
func resolveName(cur *Event, name string) (typ string, parent *Event, err error) {
	if cur != nil && cur.invalid {
		// Inside an event whose own name was invalid: disabled, reported once.
		return name, cur, fmt.Errorf("%w %q: inside invalid %q", ErrInvalidName, name, cur.typ)
	}
	if err := checkChars(name); err != nil {
		return "", nil, err
	}
	var tail string // the part after the '.' or '^.' of a relative name
	switch {
	case strings.HasPrefix(name, "^"):
		if !strings.HasPrefix(name, "^.") {
			return "", nil, fmt.Errorf("%w %q: '^' must be followed by '.'", ErrInvalidName, name)
		}
		tail = name[2:]
		parent = bottom(cur)
	case strings.HasPrefix(name, "."):
		tail = name[1:]
		parent = cur
	default:
		if err := checkParts(name, name); err != nil {
			return "", nil, err
		}
		parent = closest(cur, name)
		switch {
		case parent == nil:
		case parent.typ == name:
			reportError(fmt.Errorf("ox: event %q opened inside an open event of the same name", name))
		case !isPrefix(parent.typ, name):
			parent = nil // shares a first part only: a separate branch of the tree
		}
		return checkLen(name, name, parent)
	}
	if err := checkParts(name, tail); err != nil {
		return "", nil, err
	}
	if parent == nil {
		return checkLen(name, tail, nil)
	}
	return checkLen(name, extendCached(parent.typ, tail), parent)
}

// nameCache remembers sub-event names, so that the usual handful of them cost no
// allocation per event. It is copy-on-write and bounded.
var nameCache atomic.Pointer[map[[2]string]string]

const maxCachedNames = 512

// nameFast is a small direct-mapped cache in front of nameCache: a hit costs two
// string comparisons, which usually compare equal pointers, instead of hashing.
var nameFast [64]atomic.Pointer[nameEntry]

type nameEntry struct{ base, tail, typ string }

func extendCached(base, tail string) string {
	slot := &nameFast[(len(base)*31+len(tail)*17+int(base[len(base)-1])*7+int(tail[0]))&63]
	if e := slot.Load(); e != nil && e.base == base && e.tail == tail {
		return e.typ
	}
	typ := extendMapCached(base, tail)
	slot.Store(&nameEntry{base, tail, typ})
	return typ
}

func extendMapCached(base, tail string) string {
	key := [2]string{base, tail}
	old := nameCache.Load()
	if old != nil {
		if s, ok := (*old)[key]; ok {
			return s
		}
	}
	s := extend(base, tail)
	for old == nil || len(*old) < maxCachedNames {
		m := make(map[[2]string]string, 1+lenOf(old))
		if old != nil {
			maps.Copy(m, *old)
		}
		m[key] = s
		if nameCache.CompareAndSwap(old, &m) {
			break
		}
		old = nameCache.Load()
	}
	return s
}

func lenOf(m *map[[2]string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// extend names a sub-event tail of an event of type base. When a part of base
// equals tail's first part, the name is cut back to that part and extended from
// there (".db" inside "request.db" is "request.db", not "request.db.db").
func extend(base, tail string) string {
	first := tail
	if i := strings.IndexByte(tail, '.'); i >= 0 {
		first = tail[:i]
	}
	// Look for first as a whole part of base, the last occurrence winning.
	for end := len(base); end > 0; {
		start := strings.LastIndexByte(base[:end], '.') + 1
		if base[start:end] == first {
			if start == 0 {
				return tail
			}
			if base[start:] == tail { // the common case of a repeated sub-event: no allocation
				return base
			}
			return base[:start] + tail
		}
		end = start - 1
	}
	return base + "." + tail
}

// bottom returns the outermost open event of the stack whose top is cur.
func bottom(cur *Event) *Event {
	if cur == nil {
		return nil
	}
	for cur.prev != nil {
		cur = cur.prev
	}
	return cur
}

// closest returns the open event sharing the most leading dotted parts with name
// (the outermost on a tie), or nil when none shares any.
func closest(cur *Event, name string) *Event {
	var best *Event
	bestLen := 0
	for e := cur; e != nil; e = e.prev {
		if n := sharedParts(e.typ, name); n > 0 && n >= bestLen {
			best, bestLen = e, n
		}
	}
	return best
}

// sharedParts counts the leading dotted parts a and b have in common.
func sharedParts(a, b string) int {
	n := 0
	for {
		i := strings.IndexByte(a, '.')
		j := strings.IndexByte(b, '.')
		pa, pb := a, b
		if i >= 0 {
			pa = a[:i]
		}
		if j >= 0 {
			pb = b[:j]
		}
		if pa != pb {
			return n
		}
		n++
		if i < 0 || j < 0 {
			return n
		}
		a, b = a[i+1:], b[j+1:]
	}
}

// isPrefix reports whether the dotted parts of p begin the parts of name.
func isPrefix(p, name string) bool {
	return name == p || strings.HasPrefix(name, p) && name[len(p)] == '.'
}

func checkChars(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/' || c == '\\':
			return fmt.Errorf("%w %q: contains %q", ErrInvalidName, name, c)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w %q: contains a control character", ErrInvalidName, name)
		}
	}
	return nil
}

// checkParts refuses empty dotted parts in s (a name or the tail of one).
func checkParts(name, s string) error {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return fmt.Errorf("%w %q: empty part between dots", ErrInvalidName, name)
	}
	return nil
}

func checkLen(name, typ string, parent *Event) (string, *Event, error) {
	if len(typ) > MaxNameLen {
		return "", nil, fmt.Errorf("%w %q: type %q is longer than %d bytes", ErrInvalidName, name, typ, MaxNameLen)
	}
	return typ, parent, nil
}
