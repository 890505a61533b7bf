package esbulk_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// bulkAction is one document as a fake server received it.
type bulkAction struct {
	Action string
	Index  string
	ID     string
	Body   map[string]any
}

// fakeES is a stdlib stand-in for Elasticsearch's bulk endpoint. By default
// every document is created (201); respond can script other answers, in the
// shapes Elasticsearch documents for partial failures.
type fakeES struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []*http.Request
	batches  [][]bulkAction
	bodies   [][]byte
	indexed  map[string]int // _id (or body "n") -> times accepted

	// respond, when set, returns the whole response for a request (status and
	// body), or status 0 to fall back to itemStatus.
	respond func(call int, docs []bulkAction) (int, string)
	// itemStatus, when set, gives the status of one item (201 otherwise).
	itemStatus func(call int, doc bulkAction) int
}

func newFakeES(t *testing.T) *fakeES {
	t.Helper()
	f := &fakeES{t: t, indexed: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) URL() string { return f.srv.URL }

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	docs, err := parseBulk(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":%q},"status":400}`, err.Error())
		return
	}
	f.mu.Lock()
	call := len(f.requests)
	f.requests = append(f.requests, r)
	f.batches = append(f.batches, docs)
	f.bodies = append(f.bodies, body)
	respond, itemStatus := f.respond, f.itemStatus
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if respond != nil {
		if status, resp := respond(call, docs); status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, resp)
			return
		}
	}
	var items []string
	anyErr := false
	for _, d := range docs {
		status := 201
		if itemStatus != nil {
			status = itemStatus(call, d)
		}
		items = append(items, itemJSON(d, status))
		if status/100 == 2 {
			f.mu.Lock()
			f.indexed[d.key()]++
			f.mu.Unlock()
		} else {
			anyErr = true
		}
	}
	fmt.Fprintf(w, `{"took":3,"errors":%t,"items":[%s]}`, anyErr, strings.Join(items, ","))
}

func (d bulkAction) key() string {
	if d.ID != "" {
		return d.ID
	}
	return fmt.Sprint(d.Body["n"])
}

// itemJSON renders one response item the way Elasticsearch 8 does.
func itemJSON(d bulkAction, status int) string {
	var errPart string
	switch {
	case status == 400:
		errPart = `,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long] in document with id '` + d.ID + `'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}`
	case status == 429:
		errPart = `,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]"}`
	case status >= 300:
		errPart = fmt.Sprintf(`,"error":{"type":"status_%d","reason":"scripted"}`, status)
	}
	result := "created"
	if status/100 != 2 {
		result = ""
	}
	return fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"_version":1,"result":%q,"status":%d%s}}`,
		d.Action, d.Index, d.ID, result, status, errPart)
}

// parseBulk reads NDJSON action/source pairs strictly, so that a malformed
// request body fails the test's expectations.
func parseBulk(body []byte) ([]bulkAction, error) {
	var out []bulkAction
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var meta map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &meta); err != nil || len(meta) != 1 {
			return nil, fmt.Errorf("bad action line %q: %v", sc.Text(), err)
		}
		var d bulkAction
		for k, v := range meta {
			d.Action, d.Index, d.ID = k, v.Index, v.ID
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("action without a source line")
		}
		if err := json.Unmarshal(sc.Bytes(), &d.Body); err != nil {
			return nil, fmt.Errorf("bad source line %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("bulk body must end with a newline")
	}
	return out, sc.Err()
}

func (f *fakeES) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

func (f *fakeES) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}
