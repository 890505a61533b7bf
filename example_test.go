package ox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/blueox/ox"
)

// printEvents makes ox hand finished events to a function that prints their
// type and body, instead of sending them. Timings vary from run to run, so keys
// ending in "time" or named "duration" print as "…".
func printEvents() {
	ox.SetRecorder(func(r ox.Record) {
		hideTimes(r.Body)
		b, _ := json.Marshal(r.Body)
		fmt.Println(r.Type, string(b))
	})
}

func hideTimes(m map[string]any) {
	for k, v := range m {
		switch {
		case len(k) >= 4 && k[len(k)-4:] == "time" || k == "duration":
			m[k] = "…"
		default:
			if sub, ok := v.(map[string]any); ok {
				hideTimes(sub)
			}
		}
	}
}

// The seed README's request example: one event per request, with a sub-event
// per database query sharing the request's id.
func Example() {
	printEvents()
	defer ox.SetRecorder(nil)

	handle := func(ctx context.Context, userAgent string) {
		ctx, ev := ox.Start(ctx, "request")
		defer ev.Done()
		ev.Set("user_agent", userAgent)

		stop := ev.Timeit("request_time")
		query(ctx, "select * from users where id = %s")
		stop()

		ev.Set("response.status", 200)
		ev.Set("response.size", 5120)
	}
	handle(context.Background(), "curl/8.5")
	// Output:
	// request.db {"query":"select * from users where id = %s","query_time":"…","row_count":1}
	// request {"request_time":"…","response":{"size":5120,"status":200},"user_agent":"curl/8.5"}
}

func query(ctx context.Context, q string) {
	ctx, ev := ox.Start(ctx, ".db")
	defer ev.Done()
	ox.Set(ctx, "query", q)
	defer ox.Timeit(ctx, "query_time")()
	ox.Set(ctx, "row_count", 1)
}

// Names place an event in the tree of open events: a leading "." makes a
// sub-event of the innermost one, "^." of the outermost, and a full name finds its
// parent by its dotted prefix.
func ExampleStart() {
	printEvents()
	defer ox.SetRecorder(nil)

	ctx, req := ox.Start(context.Background(), "request")
	dbCtx, db := ox.Start(ctx, ".db")
	_, cache := ox.Start(dbCtx, "^.cache")
	_, other := ox.Start(ctx, "request.auth")
	for _, ev := range []*ox.Event{cache, other, db, req} {
		fmt.Println(ev.Type(), ev.ID() == req.ID())
		ev.Done()
	}
	// Output:
	// request.cache true
	// request.cache {}
	// request.auth true
	// request.auth {}
	// request.db true
	// request.db {}
	// request true
	// request {}
}

// Timeit records elapsed wall time in float seconds.
func ExampleEvent_Timeit() {
	ox.SetRecorder(func(r ox.Record) {
		d := r.Body["render_time"].(float64)
		fmt.Println(r.Type, d >= 0.001)
	})
	defer ox.SetRecorder(nil)

	_, ev := ox.Start(context.Background(), "page")
	stop := ev.Timeit("render_time")
	time.Sleep(time.Millisecond)
	stop()
	ev.Done()
	// Output: page true
}

// Add sums numbers; integers stay integers.
func ExampleAdd() {
	printEvents()
	defer ox.SetRecorder(nil)

	ctx, ev := ox.Start(context.Background(), "batch")
	for _, size := range []int{512, 1024, 256} {
		ox.Add(ctx, "bytes", size)
		ev.Add("files", 1)
	}
	ev.Append("names", "a.txt")
	ev.Done()
	// Output: batch {"bytes":1792,"files":3,"names":["a.txt"]}
}

// Sample records a fraction of events. With level "..", all sub-events of one
// parent share one decision, so a request has all of its cache lookups or none.
func ExampleSample() {
	printEvents()
	defer ox.SetRecorder(nil)

	ctx, ev := ox.Start(context.Background(), "request")
	for _, key := range []string{"user:1", "user:2"} {
		_, c := ox.Start(ctx, ".memcache", ox.Sample("..", 1.0)) // 100%: always
		c.Set("key", key)
		c.Done()
	}
	_, never := ox.Start(ctx, ".trace", ox.Sample(".", 0))
	never.Set("ignored", true)
	never.Done()
	ev.Done()
	// Output:
	// request.memcache {"key":"user:1"}
	// request.memcache {"key":"user:2"}
	// request {}
}

// SetRecorder replaces the network, for tests.
func ExampleSetRecorder() {
	var mu sync.Mutex
	var got []ox.Record
	ox.SetRecorder(func(r ox.Record) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	defer ox.SetRecorder(nil)

	_, ev := ox.Start(context.Background(), "job", ox.WithID("job-42"))
	ev.Set("status", "ok")
	ev.Done()

	fmt.Println(len(got), got[0].ID, got[0].Type, got[0].Body["status"])
	// Output: 1 job-42 job ok
}

// An application configures ox once in main and flushes it on the way out.
func ExampleConfigure() {
	if err := ox.Configure("127.0.0.1:3514"); err != nil { // or ox.DefaultConfigure()
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ox.Shutdown(ctx); err != nil {
			log.Print(err) // says how many events were lost
		}
	}()

	ctx, ev := ox.Start(context.Background(), "startup")
	defer ev.Done()
	ox.Set(ctx, "version", "1.0")
}

// A Sender PUSHes raw frames to a collector without blocking; tools that relay
// events (oxingest, forwarding) use it directly.
func ExampleNewSender() {
	s := ox.NewSender("127.0.0.1:3514", &ox.SenderOptions{QueueSize: 10000})
	defer s.Close(context.Background())

	r := ox.Record{ID: "1", Type: "notice", Host: "web1", PID: os.Getpid(),
		Start: time.Now(), End: time.Now(), Body: map[string]any{"data": "hello"}}
	meta, _ := ox.AppendMeta(nil, r.Meta())
	data, _ := ox.AppendRecord(nil, r)
	if !s.TrySend(meta, data) {
		log.Print("queue full: event dropped")
	}
}

// A LogHandler records log lines as ".log" sub-events of the event in the
// logging call's context, and passes them on to another handler.
func ExampleNewLogHandler() {
	printEvents()
	defer ox.SetRecorder(nil)

	text := slog.NewTextHandler(io.Discard, nil) // e.g. os.Stderr
	logger := slog.New(ox.NewLogHandler(text, nil)).With("logger", "app.payments")

	ctx, ev := ox.Start(context.Background(), "request")
	logger.InfoContext(ctx, "charged", "amount", 10)
	ev.Done()
	// Output:
	// request.log {"amount":10,"level":"INFO","msg":"charged","name":"app.payments"}
	// request {}
}

// Middleware makes each request an event; handlers add to it through the
// request's context.
func ExampleMiddleware() {
	ox.SetRecorder(func(r ox.Record) {
		keys := make([]string, 0, len(r.Body))
		for k := range r.Body {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Println(r.Type, r.Body["path"], r.Body["response_status_code"], r.Body["user"])
		fmt.Println(keys)
	})
	defer ox.SetRecorder(nil)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		ox.Set(r.Context(), "user", r.PathValue("name"))
		fmt.Fprintln(w, "hello")
	})
	handler := ox.Middleware(mux, &ox.MiddlewareOptions{Version: "1.0"})

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/hello/ada", nil))
	// Output:
	// request /hello/ada 200 ada
	// [client_ip duration headers method path pattern response_size response_status_code url user version]
}

// Transport records each outgoing call made inside an event as a ".httpclient"
// sub-event.
func ExampleTransport() {
	ox.SetRecorder(func(r ox.Record) {
		req, _ := r.Body["request"].(map[string]any)
		resp, _ := r.Body["response"].(map[string]any)
		fmt.Println(r.Type, req["method"], resp["code"], resp["size"])
	})
	defer ox.SetRecorder(nil)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	defer api.Close()

	client := &http.Client{Transport: ox.Transport(nil)}
	ctx, ev := ox.Start(context.Background(), "request")
	req, _ := http.NewRequestWithContext(ctx, "GET", api.URL, nil)
	if resp, err := client.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ev.Done()
	// Output:
	// request.httpclient GET 200 11
	// request <nil> <nil> <nil>
}

// Work that continues in other goroutines takes the context along. Wait for the
// goroutines before Done so their sub-events arrive first; for work that outlives
// the request use context.WithoutCancel, which keeps the event but not the
// request's cancellation.
func Example_goroutines() {
	printEvents()
	defer ox.SetRecorder(nil)

	ctx, ev := ox.Start(context.Background(), "request")
	var wg sync.WaitGroup
	for shard := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, sub := ox.Start(ctx, ".fetch")
			defer sub.Done()
			ox.Set(ctx, "shard", shard)
		}()
		wg.Wait() // one at a time here, to print in order
	}
	ev.Done()

	done := make(chan struct{})
	go func(ctx context.Context) {
		defer close(done)
		_, mail := ox.Start(ctx, ".email")
		mail.Done()
	}(context.WithoutCancel(ctx))
	<-done
	// Output:
	// request.fetch {"shard":0}
	// request.fetch {"shard":1}
	// request {}
	// request.email {}
}
