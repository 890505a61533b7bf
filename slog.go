package ox

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// LogHandlerOptions configures a LogHandler. The zero value (or nil) means the
// defaults.
type LogHandlerOptions struct {
	// Name is the sub-event each record becomes inside the event open in the
	// record's context. Default ".log", as the original.
	Name string
	// TopLevelName is the event a record starts when no event is open in its
	// context. Default "log".
	TopLevelName string
	// Level is the minimum level recorded in ox (records below it still go to the
	// next handler). Default slog.LevelInfo.
	Level slog.Leveler
	// NameKey is the attribute that names the logger, recorded as "name" like the
	// original's logger name: slog.New(h).With("logger", "app.payments").
	// Default "logger".
	NameKey string
	// TimeKey, when set, also stores the record's time in the body under this key
	// (nothing for a zero time). By default the record's time is only the event's
	// start and end, as the original did.
	TimeKey string
}

// LogHandler is a log/slog Handler that records each log record as an ox event
// and passes it on, unchanged, to the next handler.
//
// A record becomes a sub-event (".log" by default) of the event open in the
// context given to the logging call (slog's *Context methods, e.g.
// logger.InfoContext(ctx, ...)), or a top-level event ("log") when none is open.
// Its body holds "level" ("INFO", "ERROR", ...), "msg", "name" (the logger name,
// from the NameKey attribute), the record's attributes with groups as nested maps,
// and "exception" with the text of an error attribute. The event's start and end
// are the record's time.
//
// Records that ox itself logs (through the default logger, when no error handler
// is set) are never recorded back into ox.
type LogHandler struct {
	next    slog.Handler
	name    string
	topName string
	level   slog.Leveler
	nameKey string
	timeKey string
	groups  []string  // open groups, from WithGroup
	pre     []preAttr // attributes from WithAttrs
}

// preAttr is an attribute added with WithAttrs, and the groups open at the time.
type preAttr struct {
	groups []string
	attr   slog.Attr
}

// NewLogHandler returns a handler that records into ox and then hands each record
// to next. next may be nil: records then only go to ox.
func NewLogHandler(next slog.Handler, opts *LogHandlerOptions) *LogHandler {
	var o LogHandlerOptions
	if opts != nil {
		o = *opts
	}
	h := &LogHandler{next: next, name: o.Name, topName: o.TopLevelName, level: o.Level, nameKey: o.NameKey, timeKey: o.TimeKey}
	if h.name == "" {
		h.name = ".log"
	}
	if h.topName == "" {
		h.topName = "log"
	}
	if h.level == nil {
		h.level = slog.LevelInfo
	}
	if h.nameKey == "" {
		h.nameKey = "logger"
	}
	return h
}

// Enabled reports whether ox records level or the next handler wants it.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.level.Level() || h.next != nil && h.next.Enabled(ctx, level)
}

// Handle records r as an event, then passes it to the next handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if r.Level >= h.level.Level() && ctx.Value(internalKey{}) == nil {
		h.record(ctx, r)
	}
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *LogHandler) record(ctx context.Context, r slog.Record) {
	name := h.name
	if FromContext(ctx) == nil {
		name = h.topName
	}
	_, ev := Start(ctx, name)
	if !ev.Enabled() {
		ev.Done()
		return
	}
	body := map[string]any{"level": r.Level.String(), "msg": r.Message}
	if h.timeKey != "" && !r.Time.IsZero() {
		body[h.timeKey] = r.Time
	}
	b := bodyBuilder{body: body, nameKey: h.nameKey}
	for _, p := range h.pre {
		b.add(p.groups, p.attr)
	}
	r.Attrs(func(a slog.Attr) bool {
		b.add(h.groups, a)
		return true
	})
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	ev.mu.Lock()
	ev.start, ev.instant = at.UnixNano(), true
	ev.mu.Unlock()
	for k, v := range body {
		ev.setTop(k, v)
	}
	ev.Done()
}

// WithAttrs returns a handler whose records carry attrs, inside the groups open
// now.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.pre = slices.Clip(h.pre)
	for _, a := range attrs {
		h2.pre = append(h2.pre, preAttr{groups: h.groups, attr: a})
	}
	if h.next != nil {
		h2.next = h.next.WithAttrs(attrs)
	}
	return &h2
}

// WithGroup returns a handler that nests the attributes that follow under name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), name)
	if h.next != nil {
		h2.next = h.next.WithGroup(name)
	}
	return &h2
}

// bodyBuilder turns slog attributes into an event body.
type bodyBuilder struct {
	body    map[string]any
	nameKey string
}

func (b *bodyBuilder) add(groups []string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if len(groups) == 0 && a.Key == b.nameKey && a.Value.Kind() == slog.KindString {
		b.body["name"] = a.Value.String()
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return
		}
		if a.Key != "" {
			groups = append(slices.Clip(groups), a.Key)
		}
		for _, ga := range attrs {
			b.add(groups, ga)
		}
		return
	}
	m := b.body
	for _, g := range groups {
		sub, ok := m[g].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[g] = sub
		}
		m = sub
	}
	v := logValue(a.Value)
	if err, ok := v.(error); ok {
		b.body["exception"] = err.Error()
		v = err.Error()
	}
	m[a.Key] = v
}

// logValue converts a resolved, non-group slog value to what the event body holds.
func logValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration()
	case slog.KindTime:
		return v.Time()
	}
	return v.Any()
}
