package esbulk

import (
	"encoding/json"
	"strings"
	"testing"
)

// bulkReply builds a bulk response with n copies of item.
func bulkReply(errors bool, n int, item string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item
	}
	e := "false"
	if errors {
		e = "true"
	}
	return `{"took":3,"errors":` + e + `,"items":[` + strings.Join(items, ",") + `]}`
}

// esItem is an item as Elasticsearch 8 answers an indexed document.
const esItem = `{"index":{"_index":"blueox-2026.11.24","_id":"4f1c2a","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":7,"_primary_term":1,"status":201}}`

func TestAllIndexed(t *testing.T) {
	tests := []struct {
		name string
		body string
		n    int
		want bool
	}{
		{"VictoriaLogs answer", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, 2, true},
		{"Elasticsearch answer", bulkReply(false, 3, esItem), 3, true},
		{"white space everywhere", " \n{ \"errors\" : false ,\t\"items\" : [ { \"index\" : { \"status\" : 200 } } ] }\r\n", 1, true},
		{"every action", `{"errors":false,"items":[{"index":{"status":200}},{"create":{"status":201}},{"update":{"status":200}},{"delete":{"status":200}}]}`, 4, true},
		{"no items: a store that only says no errors", `{"errors":false}`, 5, true},
		{"empty items", `{"errors":false,"items":[]}`, 5, true},
		{"items before errors", `{"items":[{"index":{"status":201}}],"errors":false}`, 1, true},
		{"other fields of any type", `{"a":[1,-2.5e+3,"x\"\u00e9",{"b":null},true],"errors":false,"items":[{"x":{},"index":{"error":"ignored","status":201,"y":[0.1]}}]}`, 1, true},

		{"errors true", bulkReply(true, 2, `{"index":{"status":201}}`), 2, false},
		{"no errors field", `{"items":[{"index":{"status":201}}]}`, 1, false},
		{"errors not a boolean", `{"errors":"false","items":[]}`, 1, false},
		{"errors null", `{"errors":null}`, 1, false},
		{"errors twice", `{"errors":true,"errors":false}`, 1, false},
		{"errors in other case", `{"errors":false,"Errors":true}`, 1, false},
		{"escaped key", `{"errors":false,"\u0065rrors":true}`, 1, false},
		{"items twice", `{"errors":false,"items":[],"items":[{"index":{"status":400}}]}`, 1, false},
		{"items null", `{"errors":false,"items":null}`, 1, false},
		{"too few items", `{"errors":false,"items":[{"index":{"status":201}}]}`, 2, false},
		{"too many items", `{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}}]}`, 1, false},
		{"item status 400", `{"errors":false,"items":[{"index":{"status":400}}]}`, 1, false},
		{"item status 429", `{"errors":false,"items":[{"index":{"status":429}}]}`, 1, false},
		{"item status not an integer", `{"errors":false,"items":[{"index":{"status":201.0}}]}`, 1, false},
		{"item status a fraction", `{"errors":false,"items":[{"index":{"status":2.0}}]}`, 1, false},
		{"item status an exponent", `{"errors":false,"items":[{"index":{"status":2e2}}]}`, 1, false},
		{"item status a string", `{"errors":false,"items":[{"index":{"status":"201"}}]}`, 1, false},
		{"item status twice", `{"errors":false,"items":[{"index":{"status":201,"status":500}}]}`, 1, false},
		{"item status in other case", `{"errors":false,"items":[{"index":{"status":201,"STATUS":500}}]}`, 1, false},
		{"item without status", `{"errors":false,"items":[{"index":{}}]}`, 1, false},
		{"item without action", `{"errors":false,"items":[{"other":{"status":201}}]}`, 1, false},
		{"item with two actions", `{"errors":false,"items":[{"index":{"status":201},"create":{"status":400}}]}`, 1, false},
		{"action in other case", `{"errors":false,"items":[{"index":{"status":201},"Index":{"status":400}}]}`, 1, false},
		{"action null", `{"errors":false,"items":[{"index":null}]}`, 1, false},
		{"item null", `{"errors":false,"items":[null]}`, 1, false},
		{"not JSON", `<html>proxy error</html>`, 1, false},
		{"empty", ``, 1, false},
		{"not an object", `[{"errors":false}]`, 1, false},
		{"trailing data", `{"errors":false}{}`, 1, false},
		{"truncated", `{"errors":false,"items":[{"index":{"status":201}}`, 1, false},
		{"trailing comma", `{"errors":false,"items":[],}`, 1, false},
		{"bad literal", `{"errors":false,"ok":tru}`, 1, false},
		{"bad number", `{"errors":false,"took":01}`, 1, false},
		{"bad escape", `{"errors":false,"x":"\q"}`, 1, false},
		{"control character in a string", "{\"errors\":false,\"x\":\"a\tb\"}", 1, false},
		{"deep nesting", `{"errors":false,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := allIndexed([]byte(tc.body), tc.n); got != tc.want {
				t.Fatalf("allIndexed(%s, %d) = %v, want %v", tc.body, tc.n, got, tc.want)
			}
		})
	}
}

// FuzzAllIndexed checks allIndexed against the full decoding: whenever it says
// every document was indexed, encoding/json must read the response the same way.
func FuzzAllIndexed(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`), 2)
	f.Add([]byte(bulkReply(false, 2, esItem)), 2)
	f.Add([]byte(`{"took":1,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"t","reason":"r"}}}]}`), 2)
	f.Add([]byte(`{"errors":false,"items":[{"index":{"status":201,"Status":400}}]}`), 1)
	f.Add([]byte(`{"errors":false}`), 3)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		n = 1 + (n&0xff)%4
		if !allIndexed(body, n) {
			return
		}
		var r bulkResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("allIndexed accepted %q, which does not decode: %v", body, err)
		}
		if r.Errors {
			t.Fatalf("allIndexed accepted %q, which decodes with errors true", body)
		}
		if len(r.Items) != 0 && len(r.Items) != n {
			t.Fatalf("allIndexed accepted %q for %d documents: %d items", body, n, len(r.Items))
		}
		for i, it := range r.Items {
			if res := it.result(); res == nil || res.Status/100 != 2 {
				t.Fatalf("allIndexed accepted %q: item %d decodes as %+v", body, i, res)
			}
		}
	})
}

// BenchmarkResponse compares reading a 500-item bulk response with allIndexed
// and decoding it in full.
func BenchmarkResponse(b *testing.B) {
	for _, r := range []struct{ name, item string }{
		{"victorialogs", `{"create":{"status":201}}`},
		{"elasticsearch", esItem},
	} {
		body := []byte(bulkReply(false, 500, r.item))
		b.Run(r.name+"/scan", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !allIndexed(body, 500) {
					b.Fatal("not all indexed")
				}
			}
		})
		b.Run(r.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var resp bulkResponse
				if err := json.Unmarshal(body, &resp); err != nil || len(resp.Items) != 500 {
					b.Fatal(err)
				}
			}
		})
	}
}
