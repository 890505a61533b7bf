package ox

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blueox/ox/internal/testenv"
)

// recorder captures finished events for a test and restores the unconfigured
// state afterwards. The package state is global: these tests do not run in
// parallel.
type recorder struct {
	mu     sync.Mutex
	events []Record
	errs   []error
}

func record(t *testing.T) *recorder {
	t.Helper()
	return recordWith(t, nil)
}

// recordWith records with coin as sampling's random source.
func recordWith(t *testing.T, coin func() float64) *recorder {
	t.Helper()
	r := &recorder{}
	current.Store(&config{recorder: r.add, host: "testhost", pid: 4242, coin: coin})
	SetErrorHandler(func(err error) {
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.mu.Unlock()
	})
	t.Cleanup(func() {
		SetRecorder(nil)
		SetErrorHandler(nil)
	})
	return r
}

func (r *recorder) add(rec Record) {
	r.mu.Lock()
	r.events = append(r.events, rec)
	r.mu.Unlock()
}

func (r *recorder) all() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.events...)
}

func (r *recorder) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func (r *recorder) types() []string {
	var out []string
	for _, e := range r.all() {
		out = append(out, e.Type)
	}
	return out
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Every row of PROTOCOL.md §3's table, and the original's other naming cases.
func TestContextNaming(t *testing.T) {
	tests := []struct {
		name     string
		open     []string // events already open, outermost first
		start    string
		wantType string
		wantID   string // "new", or the index in open whose id is shared
	}{
		{"top-level name, no open context", nil, "request", "request", "new"},
		{"dot name inside request is a sub-event", []string{"request"}, ".db", "request.db", "0"},
		{"caret name uses the top context", []string{"request", ".db"}, "^.cache", "request.cache", "0"},
		{"full name inside its parent", []string{"request"}, "request.db", "request.db", "0"},
		{"full name takes the longest matching parent", []string{"request", ".db"}, "request.db.query", "request.db.query", "1"},
		{"unrelated name is a separate tree", []string{"request"}, "other.thing", "other.thing", "new"},
		{"name sharing only a first part with a deeper event", []string{"request", "request.db"}, "request.cache", "request.cache", "0"},
		{"dot name equal to the parent's last part is reused", []string{"request", ".db"}, ".db", "request.db", "0"},
		{"dot name cut back to an earlier equal part", []string{"request", ".db", ".query"}, ".db", "request.db", "0"},
		{"dotted relative name extending a matching part", []string{"x", ".foo"}, ".foo.bar", "x.foo.bar", "0"},
		{"same name as an open event keeps the name", []string{"request"}, "request", "request", "0"},
		{"dot name with no open context", nil, ".db", "db", "new"},
		{"caret name with no open context", nil, "^.cache", "cache", "new"},
		{"caret name inside a single context", []string{"request"}, "^.cache", "request.cache", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			record(t)
			ctx := context.Background()
			var open []*Event
			for _, n := range tt.open {
				var ev *Event
				ctx, ev = Start(ctx, n)
				open = append(open, ev)
			}
			_, ev := Start(ctx, tt.start)
			if ev.Type() != tt.wantType {
				t.Errorf("Start(%q) inside %v: type %q, want %q", tt.start, tt.open, ev.Type(), tt.wantType)
			}
			if !ev.Enabled() {
				t.Errorf("event disabled")
			}
			if tt.wantID == "new" {
				if !hexID.MatchString(ev.ID()) {
					t.Errorf("id %q is not 32 lowercase hex digits", ev.ID())
				}
				for _, o := range open {
					if o.ID() == ev.ID() {
						t.Errorf("id shared with %s, want a new one", o.Type())
					}
				}
			} else {
				var i int
				fmt.Sscan(tt.wantID, &i)
				if ev.ID() != open[i].ID() {
					t.Errorf("id %s, want %s's id %s", ev.ID(), open[i].Type(), open[i].ID())
				}
			}
		})
	}
}

func TestDuplicateNameIsReportedAndKept(t *testing.T) {
	r := record(t)
	ctx, _ := Start(context.Background(), "request")
	_, ev := Start(ctx, "request")
	if ev.Type() != "request" || !ev.Enabled() {
		t.Fatalf("type %q enabled %v", ev.Type(), ev.Enabled())
	}
	if errs := r.errors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "same name") {
		t.Errorf("reported %v, want one warning about the duplicate name", errs)
	}
}

func TestInvalidNamesDisableTheEventAndAreReported(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		open  []string
		start string
	}{
		{"empty", nil, ""},
		{"empty part between dots", nil, "a..b"},
		{"double dot prefix", []string{"request"}, "..x"},
		{"caret without dot", []string{"request"}, "^x"},
		{"lone caret", nil, "^"},
		{"lone dot", nil, "."},
		{"caret dot alone", nil, "^."},
		{"trailing dot", nil, "request."},
		{"over 63 bytes", nil, long},
		{"sub-event name over 63 bytes", []string{strings.Repeat("p", 61)}, ".db"},
		{"exactly 63 bytes is fine but sub-event is not", []string{long[:63]}, ".x"},
		{"slash", nil, "a/b"},
		{"backslash", nil, `a\b`},
		{"NUL", nil, "a\x00b"},
		{"newline", nil, "a\nb"},
		{"DEL", nil, "a\x7fb"},
		{"dot-dot path", nil, "../etc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t)
			ctx := context.Background()
			var open []*Event
			for _, n := range tt.open {
				var ev *Event
				ctx, ev = Start(ctx, n)
				open = append(open, ev)
			}
			before := ReadStats().InvalidNames
			ctx2, ev := Start(ctx, tt.start)
			if ev == nil || ev.Enabled() {
				t.Fatalf("Start(%q) = %v, want a disabled event", tt.start, ev)
			}
			ev.Set("k", 1)
			ev.Add("n", 1)
			ev.Append("l", 1)
			ev.Timeit("t")()
			Set(ctx2, "k", 2)
			_, child := Start(ctx2, ".child")
			if child.Enabled() {
				t.Errorf("a sub-event of an invalid event is enabled")
			}
			child.Done()
			ev.Done()
			for _, o := range open {
				o.Done()
			}
			for _, rec := range r.all() {
				if rec.Type != strings.Join(tt.open, "") {
					t.Errorf("recorded %q", rec.Type)
				}
			}
			errs := r.errors()
			if len(errs) != 1 || !errors.Is(errs[0], ErrInvalidName) {
				t.Errorf("reported %v, want one ErrInvalidName", errs)
			}
			if got := ReadStats().InvalidNames - before; got != 1 {
				t.Errorf("InvalidNames grew by %d, want 1", got)
			}
		})
	}
}

// sequence returns a sampling coin that yields vals in turn.
func sequence(vals ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := vals[i%len(vals)]
		i++
		return v
	}
}

// Every sampling level of PROTOCOL.md §5. The coin alternates 0.1 (in at rate
// 0.5) and 0.9 (out), so a decision made once shows as equal outcomes.
func TestSamplingLevels(t *testing.T) {
	type step struct {
		parent string // "" starts a new top-level "request"
		name   string
		level  string
	}
	tests := []struct {
		name string
		run  func(t *testing.T) []bool // enabled flags of the sampled events
		want []bool
	}{
		{"dot: a fresh decision per event", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request")
			var out []bool
			for i := 0; i < 4; i++ {
				_, ev := Start(ctx, ".memcache", Sample(".", 0.5))
				out = append(out, ev.Enabled())
			}
			return out
		}, []bool{true, false, true, false}},
		{"own name: a fresh decision per event", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request")
			var out []bool
			for i := 0; i < 2; i++ {
				_, ev := Start(ctx, ".memcache", Sample(".memcache", 0.5))
				out = append(out, ev.Enabled())
			}
			for i := 0; i < 2; i++ {
				_, ev := Start(ctx, ".memcache", Sample("request.memcache", 0.5))
				out = append(out, ev.Enabled())
			}
			return out
		}, []bool{true, false, true, false}},
		{"dot-dot: one decision per parent, shared by its sub-events", func(t *testing.T) []bool {
			var out []bool
			for p := 0; p < 2; p++ {
				ctx, _ := Start(context.Background(), "request")
				for i := 0; i < 3; i++ {
					_, ev := Start(ctx, ".memcache", Sample("..", 0.5))
					out = append(out, ev.Enabled())
				}
			}
			return out
		}, []bool{true, true, true, false, false, false}},
		{"dot-dot: each sub-event name decided separately", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request")
			_, a := Start(ctx, ".a", Sample("..", 0.5))
			_, b := Start(ctx, ".b", Sample("..", 0.5))
			_, a2 := Start(ctx, ".a", Sample("..", 0.5))
			return []bool{a.Enabled(), b.Enabled(), a2.Enabled()}
		}, []bool{true, false, true}},
		{"caret: one decision per top-level event", func(t *testing.T) []bool {
			var out []bool
			for p := 0; p < 2; p++ {
				ctx, _ := Start(context.Background(), "request")
				ctx, _ = Start(ctx, ".handler")
				for i := 0; i < 2; i++ {
					ctx2, _ := Start(ctx, ".step")
					_, ev := Start(ctx2, ".cache", Sample("^", 0.5))
					out = append(out, ev.Enabled())
				}
			}
			return out
		}, []bool{true, true, false, false}},
		{"named: one decision per that open event", func(t *testing.T) []bool {
			var out []bool
			for p := 0; p < 2; p++ {
				ctx, _ := Start(context.Background(), "request")
				ctx, _ = Start(ctx, ".db")
				for i := 0; i < 2; i++ {
					ctx2, _ := Start(ctx, ".conn")
					_, ev := Start(ctx2, ".query", Sample("request.db", 0.5))
					out = append(out, ev.Enabled())
				}
			}
			return out
		}, []bool{true, true, false, false}},
		{"rate 1 always, rate 0 never", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request")
			_, a := Start(ctx, ".a", Sample(".", 1))
			_, b := Start(ctx, ".b", Sample(".", 0))
			_, c := Start(ctx, ".c", Sample(".", math.NaN()))
			return []bool{a.Enabled(), b.Enabled(), c.Enabled()}
		}, []bool{true, false, false}},
		{"a sampled-out parent disables its sub-events and theirs", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request", Sample(".", 0.0))
			ctx2, a := Start(ctx, ".db")
			_, b := Start(ctx2, ".query", Sample(".", 1))
			_, c := Start(ctx, "request.cache")
			_, d := Start(ctx, "other") // a separate tree is not affected
			return []bool{a.Enabled(), b.Enabled(), c.Enabled(), d.Enabled()}
		}, []bool{false, false, false, true}},
		{"unknown level: reported, decided per event", func(t *testing.T) []bool {
			ctx, _ := Start(context.Background(), "request")
			_, a := Start(ctx, ".a", Sample("nosuch", 0.5))
			_, b := Start(ctx, ".a", Sample("nosuch", 0.5))
			return []bool{a.Enabled(), b.Enabled()}
		}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recordWith(t, sequence(0.1, 0.9))
			if got := tt.run(t); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSampledOutEventSendsNothing(t *testing.T) {
	r := record(t)
	ctx, ev := Start(context.Background(), "request", Sample(".", 0))
	ev.Set("a", 1)
	_, sub := Start(ctx, ".db")
	sub.Set("b", 2)
	sub.Done()
	ev.Done()
	if got := r.all(); len(got) != 0 {
		t.Errorf("recorded %v", got)
	}
}

func TestSetAppendAddTimeit(t *testing.T) {
	r := record(t)
	ctx, ev := Start(context.Background(), "request")
	ev.Set("user_agent", "curl")
	Set(ctx, "response.status", 200)
	Set(ctx, "response.size", 512)
	ev.Append("tags", "a")
	Append(ctx, "tags", "b")
	ev.Add("size", 512)
	Add(ctx, "size", 10)
	ev.Add("ratio", 0.5)
	Add(ctx, "ratio", 1)
	ev.Add("mixed", 1)
	ev.Add("mixed", 0.25)
	type myInt int16
	Add(ctx, "named", myInt(3))
	ev.Add("big", uint64(math.MaxUint64))
	stop := ev.Timeit("request_time")
	time.Sleep(2 * time.Millisecond)
	stop()
	func() { defer Timeit(ctx, "ctx_time")() }()
	ev.Done()

	got := r.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d events", len(got))
	}
	b := got[0].Body
	want := map[string]any{
		"user_agent": "curl",
		"response":   map[string]any{"status": 200, "size": 512},
		"tags":       []any{"a", "b"},
		"size":       int64(522),
		"ratio":      1.5,
		"mixed":      1.25,
		"named":      int64(3),
		"big":        uint64(math.MaxUint64),
	}
	for k, w := range want {
		if !reflect.DeepEqual(b[k], w) {
			t.Errorf("body[%q] = %#v, want %#v", k, b[k], w)
		}
	}
	if d, ok := b["request_time"].(float64); !ok || d < 0.002 || d > 10 {
		t.Errorf("request_time = %#v, want float seconds >= 0.002", b["request_time"])
	}
	if _, ok := b["ctx_time"].(float64); !ok {
		t.Errorf("ctx_time = %#v, want float seconds", b["ctx_time"])
	}
}

func TestWriteConflictsAreReportedNotPanics(t *testing.T) {
	r := record(t)
	_, ev := Start(context.Background(), "request")
	ev.Set("a", 1)
	ev.Set("a.b", 2)     // a is not a map
	ev.Append("a", 3)    // not a list
	ev.Add("tags", 1)    // fine: new number
	ev.Set("s", "x")     //
	ev.Add("s", 1)       // not a number
	ev.Add("n", "seven") // not a number
	ev.Set("", 1)        // empty key
	ev.Done()
	if n := len(r.errors()); n != 5 {
		t.Errorf("reported %d errors, want 5: %v", n, r.errors())
	}
	if b := r.all()[0].Body; b["a"] != 1 || b["s"] != "x" {
		t.Errorf("body changed by a refused write: %v", b)
	}
}

func TestWritesAfterDoneAreIgnoredAndDoneIsIdempotent(t *testing.T) {
	r := record(t)
	ctx, ev := Start(context.Background(), "request")
	ev.Set("a", 1)
	stop := ev.Timeit("late")
	ev.Done()
	ev.Set("b", 2)
	Set(ctx, "c", 3)
	ev.Add("a", 1)
	ev.Append("d", 1)
	stop()
	ev.Done()
	got := r.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d events, want 1", len(got))
	}
	if !reflect.DeepEqual(got[0].Body, map[string]any{"a": 1}) {
		t.Errorf("body = %v", got[0].Body)
	}
}

func TestConcurrentWritesToOneEvent(t *testing.T) {
	r := record(t)
	ctx, ev := Start(context.Background(), "request")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				Add(ctx, "count", 1)
				ev.Append("list", i)
				Set(ctx, fmt.Sprintf("g.%d", g), i)
			}
		}()
	}
	wg.Add(1)
	go func() { // Done racing with the writers must not break anything
		defer wg.Done()
		time.Sleep(time.Millisecond)
	}()
	wg.Wait()
	ev.Done()
	b := r.all()[0].Body
	if b["count"] != int64(800) || len(b["list"].([]any)) != 800 {
		t.Errorf("count %v, list of %d, want 800 each", b["count"], len(b["list"].([]any)))
	}
}

func TestDoneRacingWithWriters(t *testing.T) {
	record(t)
	for i := 0; i < 50; i++ {
		ctx, ev := Start(context.Background(), "request")
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 50; j++ {
					Set(ctx, "a.b", j)
				}
			}()
		}
		ev.Done()
		wg.Wait()
	}
}

func TestSubEventsFinishBeforeParents(t *testing.T) {
	r := record(t)
	func() {
		ctx, ev := Start(context.Background(), "request")
		defer ev.Done()
		func() {
			_, db := Start(ctx, ".db")
			defer db.Done()
		}()
	}()
	if got := r.types(); !reflect.DeepEqual(got, []string{"request.db", "request"}) {
		t.Errorf("order %v", got)
	}
}

func TestRecordFields(t *testing.T) {
	r := record(t)
	before := time.Now()
	_, ev := Start(context.Background(), "request", WithID("my-id"))
	ev.Done()
	rec := r.all()[0]
	if rec.ID != "my-id" || rec.Host != "testhost" || rec.PID != 4242 || rec.Type != "request" {
		t.Errorf("record %+v", rec)
	}
	if rec.Start.Before(before.Add(-time.Millisecond)) || rec.End.Before(rec.Start) {
		t.Errorf("start %v end %v", rec.Start, rec.End)
	}
	if rec.Body == nil || len(rec.Body) != 0 {
		t.Errorf("empty event body = %#v, want an empty map as the original sent", rec.Body)
	}
}

func TestEventClockFollowsTheWallClock(t *testing.T) {
	for i := 0; i < 1000; i++ {
		before := time.Now().UnixNano()
		got := unixNano()
		after := time.Now().UnixNano()
		if got < before-int64(time.Millisecond) || got > after+int64(time.Millisecond) {
			t.Fatalf("unixNano = %d, wall clock between %d and %d", got, before, after)
		}
	}
}

func TestWithIDIsSharedBySubEvents(t *testing.T) {
	record(t)
	ctx, ev := Start(context.Background(), "request", WithID("abc"))
	_, sub := Start(ctx, ".db")
	if ev.ID() != "abc" || sub.ID() != "abc" {
		t.Errorf("ids %q %q", ev.ID(), sub.ID())
	}
	_, own := Start(ctx, ".job", WithID("xyz"))
	if own.ID() != "xyz" {
		t.Errorf("sub-event WithID: %q", own.ID())
	}
}

func TestIDCarriesCreationTime(t *testing.T) {
	record(t)
	now := time.Now()
	_, ev := Start(context.Background(), "request")
	raw, err := hex.DecodeString(ev.ID())
	if err != nil || len(raw) != 16 {
		t.Fatalf("id %q", ev.ID())
	}
	sec := int64(raw[0])<<24 | int64(raw[1])<<16 | int64(raw[2])<<8 | int64(raw[3])
	if d := sec - now.Unix(); d < -1 || d > 1 {
		t.Errorf("id time %d, now %d", sec, now.Unix())
	}
	_, ev2 := Start(context.Background(), "request")
	if ev2.ID()[8:] == ev.ID()[8:] {
		t.Errorf("two ids share their random part")
	}
}

func TestUnconfiguredIsANoOp(t *testing.T) {
	SetRecorder(nil)
	ctx := context.Background()
	ctx2, ev := Start(ctx, "request")
	if ctx2 != ctx || ev != nil {
		t.Fatalf("unconfigured Start returned %v, %v", ctx2, ev)
	}
	allocs := testing.AllocsPerRun(100, func() {
		ctx2, ev := Start(ctx, "request", Sample(".", 0.5))
		ev.Set("a", 1)
		ev.Add("n", 1)
		Set(ctx2, "b", 2)
		Add(ctx2, "c", 3)
		Append(ctx2, "d", 4)
		ev.Timeit("t")()
		Timeit(ctx2, "u")()
		ev.Done()
		_ = ev.ID() + ev.Type()
	})
	if allocs != 0 {
		t.Errorf("unconfigured calls allocate %v times", allocs)
	}
}

func TestNilContextDoesNotPanic(t *testing.T) {
	r := record(t)
	//lint:ignore SA1012 a nil context must not crash the application
	ctx, ev := Start(nil, "request") //nolint:staticcheck
	Set(ctx, "a", 1)
	ev.Done()
	Set(nil, "a", 1) //nolint:staticcheck
	if len(r.all()) != 1 {
		t.Error("event not recorded")
	}
}

// The data frame Done writes is byte for byte what AppendRecord writes for the
// same record.
func TestEventFrameMatchesAppendRecord(t *testing.T) {
	start := time.Unix(1795527978, 589816800)
	end := start.Add(390 * time.Microsecond)
	cfg := &config{host: "vm", pid: 11874}
	body := map[string]any{"query": "select 1", "row_count": 1, "nested": map[string]any{"a": []any{1.5, "x"}}}
	for _, id := range []string{"", "custom-id"} {
		e := &Event{typ: "request.db", start: start.UnixNano(), id: id, rawID: [16]byte{0x6b, 0x05, 0x95, 0x2a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
		got, err := e.appendData(nil, cfg, end.UnixNano(), fieldsOf(body))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := AppendRecord(nil, Record{ID: e.ID(), Type: e.typ, Host: "vm", PID: 11874, Start: start, End: end, Body: body})
		if !bytes.Equal(got, want) {
			t.Errorf("id %q: frame\n%x\nwant\n%x", id, got, want)
		}
	}
}

// fieldsOf makes an event body of m's top level.
func fieldsOf(m map[string]any) *fieldSet {
	fs := &fieldSet{}
	for k, v := range m {
		fs.set(k, v)
	}
	return fs
}

func TestEventMetaMatchesAppendMeta(t *testing.T) {
	cfg := newConfig(nil, nil)
	for _, typ := range []string{"r", "request.db", strings.Repeat("t", MaxNameLen)} {
		e := &Event{typ: typ}
		end := time.Unix(1795527978, 590206000).UnixNano()
		got := e.appendMeta([]byte("prefix"), cfg, end)
		want, err := AppendMeta([]byte("prefix"), Meta{End: float64(end) / 1e9, Host: cfg.host, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("type %q: meta\n%x\nwant\n%x", typ, got, want)
		}
	}
}

// timeFor returns a time whose UnixFloat is exactly f.
func timeFor(t *testing.T, f float64) time.Time {
	t.Helper()
	ns := int64(math.Round(f * 1e9))
	for d := int64(-512); d <= 512; d++ {
		if tm := time.Unix(0, ns+d); UnixFloat(tm) == f {
			return tm
		}
	}
	t.Fatalf("no time for %v", f)
	return time.Time{}
}

// For the fields of each event the original sent, an Event encodes to the same
// meta frame byte for byte and to a data frame that decodes to the same map.
func TestEventFramesMatchTheOriginal(t *testing.T) {
	for i, wf := range testenv.WireFrames(t) {
		ev := wf.EventJSON
		raw, err := hex.DecodeString(ev["id"].(string))
		if err != nil || len(raw) != 16 {
			continue
		}
		want, err := DecodeRecord(wf.Data)
		if err != nil {
			t.Fatal(err)
		}
		e := &Event{typ: ev["type"].(string), start: timeFor(t, ev["start"].(float64)).UnixNano()}
		copy(e.rawID[:], raw)
		end := timeFor(t, ev["end"].(float64))
		cfg := &config{host: ev["host"].(string), pid: int(ev["pid"].(float64))}
		meta, err := AppendMeta(nil, Meta{End: UnixFloat(end), Host: cfg.host, Type: e.typ})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(meta, wf.Meta) {
			t.Errorf("event %d (%s): meta frame\n%x\nwant\n%x", i, e.typ, meta, wf.Meta)
		}
		data, err := e.appendData(nil, cfg, end.UnixNano(), fieldsOf(want.Body))
		if err != nil {
			t.Fatal(err)
		}
		gotV, _ := Decode(data)
		wantV, _ := Decode(wf.Data)
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("event %d (%s): data decodes to\n%v\nwant\n%v", i, e.typ, gotV, wantV)
		}
	}
}

func TestConfigureRejectsABadAddress(t *testing.T) {
	if err := Configure("host:notaport"); err == nil {
		t.Error("Configure accepted a non-numeric port")
		Shutdown(context.Background())
	}
}

// End to end: Configure, record the seed's request example, and a collector
// receives both events, the sub-event first.
func TestConfigureSendsToTheCollector(t *testing.T) {
	addr := localAddr(t)
	col := startCollector(t, addr)
	if err := Configure(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Shutdown(context.Background()) })
	requestExample(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := col.receive(t, 2)
	var types []string
	for _, m := range msgs {
		meta, err := ParseMeta(m.Frames[0])
		if err != nil {
			t.Fatal(err)
		}
		rec, err := DecodeRecord(m.Frames[1])
		if err != nil {
			t.Fatal(err)
		}
		if meta.Type != rec.Type || meta.Host != rec.Host || meta.End != UnixFloat(rec.End) && math.Abs(meta.End-UnixFloat(rec.End)) > 1e-6 {
			t.Errorf("meta %+v does not match record %+v", meta, rec)
		}
		types = append(types, rec.Type)
		if rec.Type == "request" {
			if rec.Body["response"].(map[string]any)["status"] != int64(200) {
				t.Errorf("request body %v", rec.Body)
			}
		}
	}
	if !reflect.DeepEqual(types, []string{"request.db", "request"}) {
		t.Errorf("collector got %v", types)
	}
	_, ev := Start(context.Background(), "request")
	if ev != nil {
		t.Error("Start after Shutdown returned an event")
	}
}

func TestShutdownSaysHowManyWereLost(t *testing.T) {
	if err := Configure(localAddr(t)); err != nil { // nobody listens
		t.Fatal(err)
	}
	SetErrorHandler(func(error) {})
	t.Cleanup(func() { SetErrorHandler(nil) })
	for i := 0; i < 3; i++ {
		requestExample(context.Background())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "6 events not sent") {
		t.Errorf("Shutdown = %v, want 6 events lost", err)
	}
}

// requestExample is the seed README's request example.
func requestExample(ctx context.Context) {
	ctx, ev := Start(ctx, "request")
	defer ev.Done()
	ev.Set("user_agent", "Mozilla/5.0 (X11; Linux x86_64)")
	stop := ev.Timeit("request_time")
	func() {
		ctx, db := Start(ctx, ".db")
		defer db.Done()
		Set(ctx, "query", "select * from users where id = %s")
		Set(ctx, "row_count", 1)
	}()
	stop()
	ev.Set("response.status", 200)
	ev.Set("response.size", 5120)
}

// Whatever names and keys an application passes, the event API never panics, an
// invalid name gives a disabled event, and what is sent is a valid frame pair.
func FuzzEventNamesAndKeys(f *testing.F) {
	for _, s := range [][2]string{
		{"request", "response.status"}, {".db", "a..b"}, {"^.cache", ""}, {"..x", "."},
		{"^x", "a."}, {"a/b", "x\x00y"}, {strings.Repeat("n", 70), strings.Repeat("k.", 40)},
	} {
		f.Add(s[0], s[1], "sub")
	}
	f.Fuzz(func(t *testing.T, name, key, sub string) {
		// A sender that never connects keeps what Done queued for the test to read.
		s := newSender("nowhere", nil, func(context.Context, string) (*senderConn, error) {
			return nil, errors.New("no collector")
		})
		ConfigureSender(s)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			Shutdown(ctx)
		}()
		SetErrorHandler(func(error) {})
		defer SetErrorHandler(nil)

		ctx, ev := Start(context.Background(), name)
		ev.Set(key, 1)
		ev.Add(key, 2)
		ev.Append(key, "x")
		Set(ctx, key+".z", true)
		sctx, child := Start(ctx, sub, Sample(name, 0.5))
		Add(sctx, key, 1.5)
		child.Done()
		ev.Done()
		if err := checkName(name); err != nil && ev.Enabled() {
			t.Errorf("Start(%q) enabled an event with an invalid name: %v", name, err)
		}
		for _, f := range takeQueued(t, s) {
			meta, err := ParseMeta(f[0])
			if err != nil {
				t.Fatalf("sent a bad meta frame: %v", err)
			}
			rec, err := DecodeRecord(f[1])
			if err != nil || rec.Type != meta.Type {
				t.Fatalf("sent a bad data frame: %v (%q vs %q)", err, rec.Type, meta.Type)
			}
		}
	})
}

// checkName is the validity of a top-level name on its own.
func checkName(name string) error {
	_, _, err := resolveName(nil, name)
	return err
}
