package backlog

import (
	"bytes"
	"encoding/json"
)

// parseItemFast parses the item lines this package writes, which are most
// of any file, in one pass without reflection: a flat object of plain
// strings (no escapes) under the item's keys, and a JSON body taken as is
// (checked to be valid JSON). Anything else — an escape, another key, a
// meta or user line, odd whitespace — returns ok false and goes to the
// full decoder, which gives the same result or a precise error.
func parseItemFast(raw []byte) (it Item, ok bool) {
	p := fastParser{b: raw}
	if !p.byte('{') {
		return it, false
	}
	seen := 0
	for first := true; ; first = false {
		if p.peek() == '}' && first {
			return it, false
		}
		if !first && !p.byte(',') {
			break
		}
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return it, false
		}
		var bit int
		var dst *string
		switch key {
		case "as":
			bit, dst = 1, &it.As
		case "key":
			bit, dst = 2, &it.Key
		case "method":
			bit, dst = 4, &it.Method
		case "path":
			bit, dst = 8, &it.Path
		case "if_match":
			bit, dst = 16, &it.IfMatch
		case "body":
			bit = 32
		default:
			return it, false
		}
		if seen&bit != 0 {
			return it, false // a repeated key: let the full decoder decide
		}
		seen |= bit
		if dst != nil {
			v, ok := p.str()
			if !ok {
				return it, false
			}
			*dst = v
			continue
		}
		body, ok := p.value()
		if !ok || !json.Valid(body) {
			return it, false
		}
		if !bytes.Equal(body, []byte("null")) {
			it.Body = json.RawMessage(bytes.Clone(body))
		}
	}
	if !p.byte('}') || p.i != len(p.b) {
		return it, false
	}
	if it.Key == "" || it.Method == "" || it.Path == "" {
		return it, false
	}
	return it, true
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) byte(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

// str reads a string; one with escapes (an If-Match value is one: "\"3\"")
// is unquoted by encoding/json.
func (p *fastParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			if !escaped {
				return string(p.b[start : p.i-1]), true
			}
			var s string
			if json.Unmarshal(p.b[start-1:p.i], &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			escaped = true
			p.i++ // the escaped character, whatever it is
		case c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// value skips one JSON value (an object, an array, a string or a literal)
// and returns its bytes; validity is checked by the caller.
func (p *fastParser) value() ([]byte, bool) {
	start := p.i
	depth := 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			for p.i < len(p.b) && p.b[p.i] != '"' {
				if p.b[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
			if p.i >= len(p.b) {
				return nil, false
			}
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return p.b[start:p.i], p.i > start
			}
			depth--
		case c == ',' && depth == 0:
			return p.b[start:p.i], p.i > start
		}
		p.i++
		if depth == 0 && (c == '}' || c == ']' || c == '"') {
			return p.b[start:p.i], true
		}
	}
	return nil, false
}
