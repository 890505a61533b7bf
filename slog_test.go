package ox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func TestLogHandlerPassesSlogtest(t *testing.T) {
	var r *recorder
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		r = record(t)
		return NewLogHandler(nil, &LogHandlerOptions{TimeKey: slog.TimeKey})
	}, func(t *testing.T) map[string]any {
		evs := r.all()
		if len(evs) != 1 {
			t.Fatalf("recorded %d events, want 1", len(evs))
		}
		return evs[0].Body
	})
}

func TestLogHandlerRecordsASubEventOfTheOpenEvent(t *testing.T) {
	r := record(t)
	var out bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&out, nil), nil)).With("logger", "app.payments")
	ctx, ev := Start(context.Background(), "request")
	logger.InfoContext(ctx, "charged $10", "amount", 10, slog.Group("card", "brand", "visa"))
	ev.Done()
	got := r.all()
	if len(got) != 2 || got[0].Type != "request.log" || got[0].ID != got[1].ID {
		t.Fatalf("recorded %+v, want request.log sharing the request's id, then request", got)
	}
	want := map[string]any{
		"name": "app.payments", "level": "INFO", "msg": "charged $10",
		"amount": int64(10), "card": map[string]any{"brand": "visa"},
	}
	if !reflect.DeepEqual(got[0].Body, want) {
		t.Errorf("body = %v, want %v", got[0].Body, want)
	}
	if !got[0].Start.Equal(got[0].End) {
		t.Errorf("start %v end %v, want the record's time for both", got[0].Start, got[0].End)
	}
	// The next handler saw the record unchanged.
	for _, s := range []string{`"msg":"charged $10"`, `"logger":"app.payments"`, `"amount":10`, `"card":{"brand":"visa"}`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("next handler output %s lacks %s", out.String(), s)
		}
	}
}

func TestLogHandlerStartsATopLevelEventWithoutOne(t *testing.T) {
	for _, tt := range []struct {
		opts *LogHandlerOptions
		want string
	}{
		{nil, "log"},
		{&LogHandlerOptions{TopLevelName: "worker.log"}, "worker.log"},
	} {
		r := record(t)
		slog.New(NewLogHandler(nil, tt.opts)).Info("started")
		if got := r.types(); !reflect.DeepEqual(got, []string{tt.want}) {
			t.Errorf("recorded %v, want %s", got, tt.want)
		}
	}
}

func TestLogHandlerCustomSubEventName(t *testing.T) {
	r := record(t)
	ctx, ev := Start(context.Background(), "request")
	slog.New(NewLogHandler(nil, &LogHandlerOptions{Name: ".applog"})).InfoContext(ctx, "hi")
	ev.Done()
	if got := r.types(); got[0] != "request.applog" {
		t.Errorf("recorded %v", got)
	}
}

func TestLogHandlerErrorAttributeIsTheException(t *testing.T) {
	r := record(t)
	slog.New(NewLogHandler(nil, nil)).Error("failed", "err", errors.New("division by zero"))
	b := r.all()[0].Body
	if b["exception"] != "division by zero" || b["level"] != "ERROR" || b["err"] != "division by zero" {
		t.Errorf("body = %v", b)
	}
}

func TestLogHandlerMinimumLevel(t *testing.T) {
	r := record(t)
	var out bytes.Buffer
	next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
	logger := slog.New(NewLogHandler(next, &LogHandlerOptions{Level: slog.LevelWarn}))
	logger.Debug("debug line")
	logger.Info("info line")
	logger.Warn("warn line")
	if got := r.all(); len(got) != 1 || got[0].Body["msg"] != "warn line" || got[0].Body["level"] != "WARN" {
		t.Errorf("recorded %v, want only the warning", got)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("next handler got %d lines, want all 3:\n%s", n, out.String())
	}
}

func TestLogHandlerRespectsTheNextHandlersLevel(t *testing.T) {
	record(t)
	var out bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}), nil))
	logger.Info("only for ox")
	if out.Len() != 0 {
		t.Errorf("next handler got a record below its level: %s", out.String())
	}
}

// ox reports its own problems through slog.Default when no error handler is set;
// with a LogHandler as the default handler they must not come back as events.
func TestLogHandlerDoesNotRecordOxsOwnLogs(t *testing.T) {
	r := record(t)
	SetErrorHandler(nil)
	var out bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(NewLogHandler(slog.NewTextHandler(&out, nil), nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	lastLogged.Store(0)
	_, ev := Start(context.Background(), "bad/name")
	ev.Done()
	if !strings.Contains(out.String(), "invalid event name") {
		t.Errorf("ox's warning did not reach the next handler: %q", out.String())
	}
	if got := r.all(); len(got) != 0 {
		t.Errorf("ox's own log came back as events: %v", got)
	}
}

func TestLogHandlerUsesTheRecordTime(t *testing.T) {
	r := record(t)
	h := NewLogHandler(nil, nil)
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	rec := slog.NewRecord(at, slog.LevelInfo, "m", 0)
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	got := r.all()[0]
	if !got.Start.Equal(at) || !got.End.Equal(at) {
		t.Errorf("start %v end %v, want %v", got.Start, got.End, at)
	}
	if _, ok := got.Body["time"]; ok {
		t.Errorf("time in the body without TimeKey: %v", got.Body)
	}
}

func TestLogHandlerWithoutConfigurationOnlyForwards(t *testing.T) {
	SetRecorder(nil)
	var out bytes.Buffer
	slog.New(NewLogHandler(slog.NewTextHandler(&out, nil), nil)).Info("hello")
	if !strings.Contains(out.String(), "hello") {
		t.Errorf("next handler output %q", out.String())
	}
}
