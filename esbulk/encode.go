package esbulk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// checkBody returns doc's body as it goes on the wire: trimmed, on one line.
func checkBody(doc Doc) ([]byte, error) {
	switch doc.Action {
	case "", "index", "create":
	default:
		return nil, fmt.Errorf("esbulk: action %q: only index and create carry a document", doc.Action)
	}
	body := bytes.TrimSpace(doc.Body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("esbulk: document body must be a JSON object")
	}
	if bytes.IndexByte(body, '\n') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
		// NDJSON needs the document on one line; JSON allows breaks only between
		// tokens, so compacting removes them (and checks the syntax).
		var c bytes.Buffer
		if err := json.Compact(&c, body); err != nil {
			return nil, fmt.Errorf("esbulk: document body: %w", err)
		}
		body = c.Bytes()
	}
	return body, nil
}

// appendAction appends doc's action line, newline included.
func appendAction(dst []byte, doc Doc) []byte {
	action := doc.Action
	if action == "" {
		action = "index"
	}
	dst = append(dst, `{"`...)
	dst = append(dst, action...)
	dst = append(dst, `":{`...)
	sep := false
	if doc.Index != "" {
		dst = append(dst, `"_index":`...)
		dst = appendString(dst, doc.Index)
		sep = true
	}
	if doc.ID != "" {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"_id":`...)
		dst = appendString(dst, doc.ID)
	}
	return append(dst, "}}\n"...)
}

// appendString appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
func appendString(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain { // the usual index names and ids
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// bulkResponse is the part of a bulk API response the Writer reads.
type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

// bulkItem holds the result of one document under the key of its action.
type bulkItem struct {
	Index  *itemResult `json:"index"`
	Create *itemResult `json:"create"`
	Update *itemResult `json:"update"`
	Delete *itemResult `json:"delete"`
}

func (b bulkItem) result() *itemResult {
	for _, r := range []*itemResult{b.Index, b.Create, b.Update, b.Delete} {
		if r != nil {
			return r
		}
	}
	return nil
}

type itemResult struct {
	Status int       `json:"status"`
	Error  itemError `json:"error"`
}

// itemError is Elasticsearch's error object, or the plain string older versions sent.
type itemError struct {
	Type   string
	Reason string
}

func (e *itemError) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		e.Reason = s
		return nil
	}
	var o struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		// An error we cannot read is still an error; keep its text.
		e.Reason = string(b)
		return nil
	}
	e.Type, e.Reason = o.Type, o.Reason
	if c := o.CausedBy; c != nil && (c.Type != "" || c.Reason != "") {
		e.Reason += " (caused by " + c.Type + ": " + c.Reason + ")"
	}
	return nil
}
