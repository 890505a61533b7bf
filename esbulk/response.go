package esbulk

import "bytes"

// allIndexed reports whether body is certainly a bulk response that says all n
// documents of the request were indexed: one JSON object whose "errors" is
// false and whose "items" is absent, empty, or n objects each holding one
// index, create, update or delete result with a 2xx status. It reads the
// response without decoding it, which matters because nearly every response
// is like that and decoding its item list is most of what a response costs.
//
// It answers false whenever it is not sure (malformed JSON, an unexpected type,
// a repeated or escaped key, a key encoding/json would match case-insensitively,
// deep nesting): the caller then decodes the response in full and decides from
// that. So when it answers true, decoding body into a bulkResponse succeeds and
// counts every document as indexed too.
func allIndexed(body []byte, n int) bool {
	s := scanner{b: body}
	var sawErrors, sawItems bool
	items := 0
	ok := s.object(func(key []byte) bool {
		switch {
		case bytes.Equal(key, []byte("errors")):
			if sawErrors {
				return false
			}
			sawErrors = true
			return s.literal("false")
		case bytes.Equal(key, []byte("items")):
			if sawItems {
				return false
			}
			sawItems = true
			return s.array(func() bool {
				items++
				return items <= n && s.indexedItem()
			})
		case bytes.EqualFold(key, []byte("errors")), bytes.EqualFold(key, []byte("items")):
			return false
		}
		return s.skip(maxSkipDepth)
	})
	s.space()
	return ok && s.i == len(s.b) && sawErrors && (items == n || items == 0)
}

// actions are the keys of a bulk response item, as bulkItem reads them.
var actions = [][]byte{[]byte("index"), []byte("create"), []byte("update"), []byte("delete")}

// indexedItem reads one item of the "items" array and reports whether it is
// certainly a single action result with a 2xx status.
func (s *scanner) indexedItem() bool {
	results := 0
	return s.object(func(key []byte) bool {
		for _, a := range actions {
			if bytes.Equal(key, a) {
				results++
				return results == 1 && s.indexedResult()
			}
			if bytes.EqualFold(key, a) {
				return false
			}
		}
		return s.skip(maxSkipDepth)
	}) && results == 1
}

// indexedResult reads an action's result object and reports whether its
// "status" is certainly a 2xx number.
func (s *scanner) indexedResult() bool {
	sawStatus := false
	return s.object(func(key []byte) bool {
		switch {
		case bytes.Equal(key, []byte("status")):
			if sawStatus {
				return false
			}
			sawStatus = true
			num, ok := s.number()
			return ok && len(num) == 3 && num[0] == '2' && isDigit(num[1]) && isDigit(num[2])
		case bytes.EqualFold(key, []byte("status")):
			return false
		}
		// "error" and everything else: the decoder accepts any value there.
		return s.skip(maxSkipDepth)
	}) && sawStatus
}

// maxSkipDepth bounds the nesting of the values allIndexed skips; a bulk
// response nests a few levels.
const maxSkipDepth = 32

// scanner walks JSON text strictly (RFC 8259, as encoding/json accepts it)
// without building values. Its methods report false on anything else.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte without consuming it (0 at
// the end).
func (s *scanner) next() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.next() == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, calling field after each key and its colon; field
// must read the value. Keys with escapes are refused: a bulk response has none,
// and refusing them means a key read here is the key the decoder sees.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		if s.next() != '"' {
			return false
		}
		key, escaped, ok := s.str()
		if !ok || escaped || !s.eat(':') || !field(key) {
			return false
		}
		if !s.eat(',') {
			return s.eat('}')
		}
	}
}

// array reads an array, calling elem to read each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !s.eat(',') {
			return s.eat(']')
		}
	}
}

// skip reads any value nested at most depth levels.
func (s *scanner) skip(depth int) bool {
	switch s.next() {
	case '{':
		return depth > 0 && s.object(func([]byte) bool { return s.skip(depth - 1) })
	case '[':
		return depth > 0 && s.array(func() bool { return s.skip(depth - 1) })
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

func (s *scanner) literal(lit string) bool {
	s.space()
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// str reads a string at s.i (its opening quote) and returns its raw contents
// and whether they hold escapes.
func (s *scanner) str() (raw []byte, escaped, ok bool) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				s.i += 6
			default:
				return nil, false, false
			}
		default: // encoding/json accepts invalid UTF-8 in strings
			s.i++
		}
	}
	return nil, false, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and returns it.
func (s *scanner) number() ([]byte, bool) {
	s.space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i - start
}
