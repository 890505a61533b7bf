package esbulk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/blueox/ox/esbulk"
)

func Example() {
	// A stand-in for Elasticsearch that rejects the second document of each
	// request the way Elasticsearch reports a mapping error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := strings.Count(string(body), "\n") / 2
		items := make([]string, n)
		for i := range items {
			items[i] = `{"index":{"status":201}}`
			if i == 1 {
				items[i] = `{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [pid]"}}}`
			}
		}
		fmt.Fprintf(w, `{"took":1,"errors":true,"items":[%s]}`, strings.Join(items, ","))
	}))
	defer srv.Close()

	w := esbulk.NewWriter(esbulk.Config{
		Nodes: []string{srv.URL},
		OnFailure: func(f esbulk.Failure) {
			fmt.Printf("not indexed: %s: %s\n", f.Doc.ID, f)
		},
	})
	ctx := context.Background()
	for i, body := range []string{`{"pid":1}`, `{"pid":"x"}`, `{"pid":3}`} {
		w.Add(ctx, esbulk.Doc{Index: "blueox-2026.11.24", ID: fmt.Sprint("doc", i), Body: []byte(body)})
	}
	if err := w.Close(ctx); err != nil {
		fmt.Println(err)
	}
	st := w.Stats()
	fmt.Printf("indexed %d, failed %d, requests %d\n", st.Indexed, st.Failed, st.Requests)
	// Output:
	// not indexed: doc1: status 400: mapper_parsing_exception: failed to parse field [pid]
	// esbulk: 1 of 3 documents failed
	// indexed 2, failed 1, requests 1
}

func ExampleParseNode() {
	for _, node := range []string{"es1", "es2:9201", "https://elastic:secret@es.example/prefix?pipeline=blueox"} {
		u, err := esbulk.ParseNode(node)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(u.Redacted())
	}
	_, err := esbulk.ParseNode("es:notaport")
	fmt.Println(err != nil)
	// Output:
	// http://es1:9200
	// http://es2:9201
	// https://elastic:xxxxx@es.example:9200/prefix?pipeline=blueox
	// true
}
