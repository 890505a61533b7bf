package ox

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// Event is one open context: a named bag of data that is sent when Done is
// called. Start makes one. All methods are safe on a nil Event (what Start returns
// while the package is unconfigured) and on a disabled one (sampled out, or
// opened with an invalid name): they do nothing. An Event may be written from
// several goroutines at once; writes after Done are ignored.
type Event struct {
	ctx eventCtx // the context Start returns, carrying this event

	// Fixed at Start.
	typ     string
	rawID   [16]byte // the generated id, formatted when needed
	id      string   // an id given with WithID, or inherited from a parent that had one
	parent  *Event   // the event whose id this one shares (nil: a new tree)
	prev    *Event   // the innermost event open in ctx at Start: the stack below this one
	start   int64    // Unix nanoseconds
	enabled bool     // sampled in, valid name, parent enabled
	invalid bool
	instant bool // ends when it starts: a log record

	mu      sync.Mutex
	done    bool
	body    *fieldSet
	samples map[string]bool // sampling decisions made for sub-events (level "..", "^" or this name)
}

// eventCtx is a context.Context carrying an Event; it lives inside the Event so
// that Start allocates once.
type eventCtx struct {
	context.Context
	ev *Event
}

type eventKey struct{}

func (c *eventCtx) Value(key any) any {
	if _, ok := key.(eventKey); ok {
		return c.ev
	}
	return c.Context.Value(key)
}

func (c *eventCtx) String() string {
	return fmt.Sprintf("%v.WithOxEvent(%s)", c.Context, c.ev.typ)
}

// FromContext returns the innermost event open in ctx, or nil.
func FromContext(ctx context.Context) *Event {
	if ctx == nil {
		return nil
	}
	e, _ := ctx.Value(eventKey{}).(*Event)
	return e
}

// Option changes how Start opens an event: WithID, Sample.
type Option struct {
	id       string
	level    string
	rate     float64
	isSample bool
}

// WithID gives the event this id instead of a generated one (or its parent's).
// Any string will do; sub-events opened inside the event share it.
func WithID(id string) Option { return Option{id: id} }

// Sample records only a fraction rate (0 to 1) of these events. level says where
// the decision is made, as in the original:
//
//   - "." or the event's own name: a fresh decision for each event;
//   - "..": once per parent event, shared by its sub-events of this name;
//   - "^": once per top-level event;
//   - the name of an open event: once per that event.
//
// A sampled-out event, and every event opened inside it, accepts writes and sends
// nothing.
func Sample(level string, rate float64) Option {
	return Option{level: level, rate: rate, isSample: true}
}

// Start opens an event named name inside ctx and returns a context carrying it
// and the event. Names follow PROTOCOL.md §3: "request" opens a new event (or,
// when an open event shares its leading dotted parts, a sub-event of that one),
// ".db" a sub-event of the innermost open event ("request.db"), "^.cache" a
// sub-event of the outermost ("request.cache"). Sub-events share their parent's
// id. Finish the event with Done, usually deferred.
//
// An invalid name (empty, an empty dotted part, "^" not followed by ".", over 63
// bytes, or containing "/", "\", NUL or control characters) never panics: the
// event is disabled, and the error is counted and reported (SetErrorHandler).
// While the package is unconfigured Start returns ctx unchanged and a nil Event.
func Start(ctx context.Context, name string, opts ...Option) (context.Context, *Event) {
	cfg := current.Load()
	if cfg == nil {
		return ctx, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	prev := FromContext(ctx)
	now := unixNano()
	e := &Event{prev: prev, start: now}
	e.ctx = eventCtx{Context: ctx, ev: e}

	var id string
	var sample *Option
	for i := range opts {
		if opts[i].isSample {
			sample = &opts[i]
		} else if opts[i].id != "" {
			id = opts[i].id
		}
	}

	typ, parent, err := resolveName(prev, name)
	if err != nil {
		e.typ, e.invalid = name, true
		if parent == nil || !parent.invalid { // report once, not for every sub-event
			counters.invalidNames.Add(1)
			reportError(err)
		}
		return &e.ctx, e
	}
	e.typ, e.parent = typ, parent
	switch {
	case id != "":
		e.id = id
	case parent != nil:
		e.id, e.rawID = parent.id, parent.rawID
	default:
		e.rawID = newID(now)
	}
	switch {
	case parent != nil && !parent.enabled:
		e.enabled = false
	case sample != nil:
		e.enabled = e.sampled(cfg, name, sample.level, sample.rate)
	default:
		e.enabled = true
	}
	return &e.ctx, e
}

// Type returns the event's type name, e.g. "request.db".
func (e *Event) Type() string {
	if e == nil {
		return ""
	}
	return e.typ
}

// ID returns the event's id: 32 lowercase hex characters (the creation time in
// Unix seconds, then 12 random bytes), shared with its parent and sub-events, or
// the one given with WithID.
func (e *Event) ID() string {
	if e == nil || e.invalid {
		return ""
	}
	if e.id != "" {
		return e.id
	}
	return hex.EncodeToString(e.rawID[:])
}

// Enabled reports whether the event will be sent: false for a nil event, a
// sampled-out one, one with an invalid name, and one inside a disabled parent.
func (e *Event) Enabled() bool {
	return e != nil && e.enabled
}

// Set stores value at key in the event's body. Dotted keys nest:
// Set("response.status", 200) gives {"response": {"status": 200}}. Values are
// encoded when the event is done: strings, numbers, booleans, []byte, time.Time,
// time.Duration (float seconds), errors (their text), maps, slices and structs.
func (e *Event) Set(key string, value any) {
	if e == nil || !e.enabled {
		return
	}
	if key != "" && strings.IndexByte(key, '.') < 0 {
		// A top-level key, the usual case: no walk down the body, no closure.
		e.mu.Lock()
		if !e.done {
			if e.body == nil {
				e.body = newFieldSet()
			}
			e.body.set(key, value)
		}
		e.mu.Unlock()
		return
	}
	e.update("set", key, func(sl slot) error {
		sl.put(value)
		return nil
	})
}

// update runs apply on the body slot for key under the event's lock, unless the
// event is nil, disabled or done, and reports what fails as "ox: <verb> <key> in
// <type>: ...". apply does not escape, so the closures callers pass cost no
// allocation.
func (e *Event) update(verb, key string, apply func(slot) error) {
	if e == nil || !e.enabled {
		return
	}
	e.mu.Lock()
	if e.done {
		e.mu.Unlock()
		return
	}
	sl, err := e.slot(key)
	if err == nil {
		err = apply(sl)
	}
	e.mu.Unlock()
	if err != nil {
		reportError(fmt.Errorf("ox: %s %q in %s: %w", verb, key, e.typ, err))
	}
}

// Append appends value to the list at key, creating it if missing.
func (e *Event) Append(key string, value any) {
	e.update("append to", key, func(sl slot) error {
		switch old, _ := sl.get(); old := old.(type) {
		case nil:
			sl.put([]any{value})
		case []any:
			sl.put(append(old, value))
		default:
			return fmt.Errorf("it holds a %T, not a list", old)
		}
		return nil
	})
}

// Add adds n to the number at key (0 if missing). n is any integer or float
// kind, so untyped constants work: ev.Add("size", 512). Integers stay integers;
// adding a float to an integer gives a float. Anything else is reported and
// ignored.
func (e *Event) Add(key string, n any) {
	if e == nil || !e.enabled {
		return
	}
	num, ok := toNumber(n)
	if !ok {
		reportError(fmt.Errorf("ox: add to %q in %s: %T is not a number", key, e.typ, n))
		return
	}
	e.update("add to", key, func(sl slot) error {
		if old, present := sl.get(); !present {
			sl.put(num.value())
		} else if o, ok := toNumber(old); ok {
			sl.put(o.plus(num).value())
		} else {
			return fmt.Errorf("it holds a %T, not a number", old)
		}
		return nil
	})
}

var noop = func() {}

// Timeit starts a timer and returns the function that stops it, storing the
// elapsed wall time in float seconds at key:
//
//	defer ev.Timeit("query_time")()
func (e *Event) Timeit(key string) func() {
	if e == nil || !e.enabled {
		return noop
	}
	start := monoNow()
	return func() { e.Set(key, (monoNow() - start).Seconds()) }
}

// Done finishes the event and sends it (unless it is disabled). It is idempotent;
// later writes are ignored. Finish sub-events before their parent, as deferred
// calls do, so the parent arrives last as with the original.
func (e *Event) Done() {
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.done {
		e.mu.Unlock()
		return
	}
	e.done = true
	body, instant := e.body, e.instant
	e.body = nil
	e.mu.Unlock()
	if !e.enabled {
		return
	}
	end := e.start
	if !instant {
		end = unixNano()
	}
	cfg := current.Load()
	switch {
	case cfg == nil:
	case cfg.recorder != nil:
		m := map[string]any{}
		if body != nil {
			m = body.toMap()
			body.release()
		}
		cfg.recorder(Record{ID: e.ID(), Type: e.typ, Host: cfg.host, PID: cfg.pid, Start: time.Unix(0, e.start), End: time.Unix(0, end), Body: m})
		return
	case cfg.sender != nil:
		// Encoded into a scratch buffer of this goroutine's P, then copied into
		// the Sender's queue.
		sb := scratchPool.Get().(*[]byte)
		buf := e.appendMeta((*sb)[:0], cfg, end)
		metaLen := len(buf)
		buf, err := e.appendData(buf, cfg, end, body)
		if err != nil {
			reportError(fmt.Errorf("ox: event %s not sent: %w", e.typ, err))
		} else {
			cfg.sender.enqueue(buf[:metaLen], buf[metaLen:])
		}
		if cap(buf) <= 64<<10 { // let oversized buffers go rather than pin them
			*sb = buf
			scratchPool.Put(sb)
		}
	}
	if body != nil {
		body.release()
	}
}

// scratchPool holds the buffers Done encodes events into before queueing them.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendMeta appends the meta frame, byte for byte what AppendMeta writes: the
// configuration holds the part up to the host, Start checked the type's length.
func (e *Event) appendMeta(dst []byte, cfg *config, end int64) []byte {
	n := len(dst)
	dst = slices.Grow(dst, MetaSize)[:n+MetaSize]
	m := dst[n:]
	copy(m, cfg.metaHead)
	binary.BigEndian.PutUint64(m[1:9], math.Float64bits(float64(end)/1e9))
	t := m[9+1+MaxNameLen:]
	t[0] = byte(len(e.typ))
	clear(t[1+copy(t[1:], e.typ):])
	return dst
}

// appendData appends the data frame, byte for byte what AppendRecord writes for
// the same Record, without formatting the id into a string first.
func (e *Event) appendData(dst []byte, cfg *config, end int64, body *fieldSet) ([]byte, error) {
	dst = append(dst, 0x87)
	dst = appendString(dst, "id")
	if e.id != "" {
		dst = appendString(dst, e.id)
	} else {
		dst = append(dst, 0xd9, byte(2*len(e.rawID)))
		dst = appendHexID(dst, &e.rawID)
	}
	dst = appendString(dst, "type")
	dst = appendString(dst, e.typ)
	if cfg.hostPID != nil {
		dst = append(dst, cfg.hostPID...)
	} else {
		dst = appendHostPID(dst, cfg.host, cfg.pid)
	}
	dst = appendString(dst, "start")
	dst = appendFloat(dst, float64(e.start)/1e9) // as UnixFloat
	dst = appendString(dst, "end")
	dst = appendFloat(dst, float64(end)/1e9)
	dst = appendString(dst, "body")
	if body == nil {
		return appendMapHeader(dst, 0), nil // the original sent {} for an empty event
	}
	return appendFields(dst, body, 0)
}

// appendHostPID appends the data frame's host and pid keys and values, the same
// for every event of a configuration.
func appendHostPID(dst []byte, host string, pid int) []byte {
	dst = appendString(dst, "host")
	dst = appendString(dst, host)
	dst = appendString(dst, "pid")
	return appendInt(dst, int64(pid))
}

// appendBody is appendMap (sorted keys) with the keys sorted in a stack buffer:
// an event body encodes without allocating.
func appendBody(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("ox: value nested deeper than %d", maxDepth)
	}
	var buf [16]field
	fields := buf[:0]
	for k, v := range m {
		fields = append(fields, field{k, v})
	}
	if len(fields) <= len(buf) {
		for i := 1; i < len(fields); i++ { // insertion sort: fast for a handful
			for j := i; j > 0 && fields[j].k < fields[j-1].k; j-- {
				fields[j], fields[j-1] = fields[j-1], fields[j]
			}
		}
	} else {
		slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.k, b.k) })
	}
	dst = appendMapHeader(dst, len(fields))
	var err error
	for _, f := range fields {
		dst = appendString(dst, f.k)
		if sub, ok := f.v.(map[string]any); ok {
			dst, err = appendBody(dst, sub, depth+1)
		} else {
			dst, err = appendValue(dst, f.v, depth+1)
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// slot finds where key lands in the body, creating it and the levels on the
// way; e.mu is held.
func (e *Event) slot(key string) (slot, error) {
	if e.body == nil {
		e.body = newFieldSet()
	}
	return lookup(e.body, key)
}

// setTop stores value at key in the body's top level, dots and all.
func (e *Event) setTop(key string, value any) {
	if e == nil || !e.enabled {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return
	}
	if e.body == nil {
		e.body = newFieldSet()
	}
	e.body.set(key, value)
}

// Set stores value at key in the innermost event open in ctx; no event, no-op.
func Set(ctx context.Context, key string, value any) { FromContext(ctx).Set(key, value) }

// Append appends value to the list at key in the innermost event open in ctx.
func Append(ctx context.Context, key string, value any) { FromContext(ctx).Append(key, value) }

// Number is the set of types Add accepts.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr |
		~float32 | ~float64
}

// Add adds n to the number at key in the innermost event open in ctx:
// ox.Add(ctx, "rows", 3). Integers stay integers.
func Add[N Number](ctx context.Context, key string, n N) {
	if e := FromContext(ctx); e != nil && e.enabled {
		e.Add(key, n)
	}
}

// Timeit times until the returned function is called and stores the float
// seconds at key in the innermost event open in ctx when Timeit was called:
//
//	defer ox.Timeit(ctx, "render_time")()
func Timeit(ctx context.Context, key string) func() { return FromContext(ctx).Timeit(key) }

// number is an integer (int64, or uint64 above MaxInt64) or a float64.
type number struct {
	kind byte // 'i', 'u' or 'f'
	i    int64
	u    uint64
	f    float64
}

func (n number) value() any {
	switch n.kind {
	case 'i':
		return n.i
	case 'u':
		return n.u
	}
	return n.f
}

func (n number) float() float64 {
	switch n.kind {
	case 'i':
		return float64(n.i)
	case 'u':
		return float64(n.u)
	}
	return n.f
}

func (n number) plus(m number) number {
	switch {
	case n.kind == 'f' || m.kind == 'f':
		return number{kind: 'f', f: n.float() + m.float()}
	case n.kind == 'i' && m.kind == 'i':
		return number{kind: 'i', i: n.i + m.i}
	}
	// One is above MaxInt64.
	if sum := n.float() + m.float(); sum < 0 || sum >= 1<<64 {
		return number{kind: 'f', f: sum}
	}
	return number{kind: 'u', u: n.uint() + m.uint()}
}

func (n number) uint() uint64 {
	if n.kind == 'u' {
		return n.u
	}
	return uint64(n.i)
}

func toNumber(v any) (number, bool) {
	switch v := v.(type) {
	case int:
		return number{kind: 'i', i: int64(v)}, true
	case int64:
		return number{kind: 'i', i: v}, true
	case float64:
		return number{kind: 'f', f: v}, true
	case int32:
		return number{kind: 'i', i: int64(v)}, true
	case uint64:
		if v > math.MaxInt64 {
			return number{kind: 'u', u: v}, true
		}
		return number{kind: 'i', i: int64(v)}, true
	case float32:
		return number{kind: 'f', f: float64(v)}, true
	case time.Duration:
		return number{kind: 'f', f: v.Seconds()}, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return number{kind: 'i', i: rv.Int()}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return toNumber(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return number{kind: 'f', f: rv.Float()}, true
	}
	return number{}, false
}

// ErrInvalidName is wrapped by the errors reported for invalid event names.
var ErrInvalidName = errors.New("ox: invalid event name")
