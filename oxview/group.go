package main

import (
	"container/list"
	"strings"
)

// grouper collects events by id until the group's top-level event (a type without a
// '.') arrives. Sub-events are sent before their parent, so the parent ends a group.
type grouper struct {
	max     int
	pending map[string]*list.Element // id -> element holding a *group
	order   *list.List               // groups by first arrival, oldest first
}

type group struct {
	id  string
	evs []groupEvent
}

// groupEvent is an event waiting in a group, already formatted.
type groupEvent struct {
	id    string // the event's id, when hasID (a str or bin)
	hasID bool
	typ   string // its type (str or bin), or ""
	out   []byte // what printing it writes
}

func newGrouper(max int) *grouper {
	return &grouper{max: max, pending: map[string]*list.Element{}, order: list.New()}
}

// add takes one event and returns the groups now ready to print: the event's group
// when it is top-level, an event without an id alone, and the oldest waiting group
// when more than max ids would wait.
func (g *grouper) add(ev groupEvent) [][]groupEvent {
	if !ev.hasID {
		return [][]groupEvent{{ev}}
	}
	id, typ := ev.id, ev.typ
	el := g.pending[id]
	if !strings.Contains(typ, ".") {
		if el == nil {
			return [][]groupEvent{{ev}}
		}
		gr := g.order.Remove(el).(*group)
		delete(g.pending, id)
		return [][]groupEvent{append(gr.evs, ev)}
	}
	if el != nil {
		gr := el.Value.(*group)
		gr.evs = append(gr.evs, ev)
		return nil
	}
	g.pending[id] = g.order.PushBack(&group{id: id, evs: []groupEvent{ev}})
	if len(g.pending) <= g.max {
		return nil
	}
	oldest := g.order.Remove(g.order.Front()).(*group)
	delete(g.pending, oldest.id)
	return [][]groupEvent{oldest.evs}
}

// drain returns every waiting group, oldest first, and forgets them.
func (g *grouper) drain() [][]groupEvent {
	var out [][]groupEvent
	for el := g.order.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*group).evs)
	}
	g.order.Init()
	clear(g.pending)
	return out
}
