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
	evs []map[string]any
}

func newGrouper(max int) *grouper {
	return &grouper{max: max, pending: map[string]*list.Element{}, order: list.New()}
}

// add takes one event and returns the groups now ready to print: the event's group
// when it is top-level, an event without an id alone, and the oldest waiting group
// when more than max ids would wait.
func (g *grouper) add(m map[string]any) [][]map[string]any {
	id, ok := idOf(m["id"])
	if !ok {
		return [][]map[string]any{{m}}
	}
	typ, _ := idOf(m["type"])
	el := g.pending[id]
	if !strings.Contains(typ, ".") {
		if el == nil {
			return [][]map[string]any{{m}}
		}
		gr := g.order.Remove(el).(*group)
		delete(g.pending, id)
		return [][]map[string]any{append(gr.evs, m)}
	}
	if el != nil {
		gr := el.Value.(*group)
		gr.evs = append(gr.evs, m)
		return nil
	}
	g.pending[id] = g.order.PushBack(&group{id: id, evs: []map[string]any{m}})
	if len(g.pending) <= g.max {
		return nil
	}
	oldest := g.order.Remove(g.order.Front()).(*group)
	delete(g.pending, oldest.id)
	return [][]map[string]any{oldest.evs}
}

// drain returns every waiting group, oldest first, and forgets them.
func (g *grouper) drain() [][]map[string]any {
	var out [][]map[string]any
	for el := g.order.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*group).evs)
	}
	g.order.Init()
	clear(g.pending)
	return out
}

func idOf(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}
