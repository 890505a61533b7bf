package ox_test

import (
	"log"
	"net/http"

	"github.com/blueox/ox"
)

// An application shows the library's counters on expvar's /debug/vars (with
// import _ "expvar") and, for Prometheus, appends them to its own /metrics.
func ExampleWriteMetrics() {
	if err := ox.PublishExpvar("ox"); err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		// ... the application's own metrics ...
		if err := ox.WriteMetrics(w); err != nil {
			log.Print(err)
		}
	})
	// http.ListenAndServe("127.0.0.1:9100", nil)
}
