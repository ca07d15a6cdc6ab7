package api

import (
	"encoding/json"
	"errors"
	"io"
)

// lexer reads the tokens of one JSON document from a byte slice, as
// encoding/json's Decoder.Token does (the same grammar, the same placement
// of commas and colons), without allocating: checkKeys reads every token of
// every command's body, and the Decoder boxes each one in an interface and
// allocates an error for each scalar it ends.
type lexer struct {
	b     []byte
	p     int
	state lexState
	stack []lexState
}

type lexState uint8

// The states of Decoder.Token.
const (
	lexTopValue lexState = iota
	lexArrayStart
	lexArrayValue
	lexArrayComma
	lexObjectStart
	lexObjectKey
	lexObjectColon
	lexObjectValue
	lexObjectComma
)

type tokenKind uint8

const (
	tokDelim tokenKind = iota + 1
	tokString
	tokScalar // a number, true, false or null
)

// token is one token: a delimiter, or a string or scalar as its raw bytes
// (a string with its quotes).
type token struct {
	kind  tokenKind
	delim byte
	raw   []byte
}

// text is a string token's decoded text (its raw bytes when it has no
// escape, which is the rule).
func (t token) text() []byte {
	inner := t.raw[1 : len(t.raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			_ = json.Unmarshal(t.raw, &s)
			return []byte(s)
		}
	}
	return inner
}

var errSyntax = errors.New("json syntax error")

func (lx *lexer) skipSpace() {
	for lx.p < len(lx.b) {
		switch lx.b[lx.p] {
		case ' ', '\t', '\r', '\n':
			lx.p++
		default:
			return
		}
	}
}

// more reports whether there is another element in the array or object
// being read (Decoder.More).
func (lx *lexer) more() bool {
	lx.skipSpace()
	return lx.p < len(lx.b) && lx.b[lx.p] != ']' && lx.b[lx.p] != '}'
}

func (lx *lexer) valueAllowed() bool {
	switch lx.state {
	case lexTopValue, lexArrayStart, lexArrayValue, lexObjectValue:
		return true
	}
	return false
}

func (lx *lexer) valueEnd() {
	switch lx.state {
	case lexArrayStart, lexArrayValue:
		lx.state = lexArrayComma
	case lexObjectValue:
		lx.state = lexObjectComma
	}
}

func (lx *lexer) pop() {
	lx.state = lx.stack[len(lx.stack)-1]
	lx.stack = lx.stack[:len(lx.stack)-1]
	lx.valueEnd()
}

// token reads the next token; io.EOF at the end of the input, errSyntax
// for anything Decoder.Token would refuse.
func (lx *lexer) token() (token, error) {
	for {
		lx.skipSpace()
		if lx.p >= len(lx.b) {
			return token{}, io.EOF
		}
		c := lx.b[lx.p]
		switch c {
		case '[', '{':
			if !lx.valueAllowed() {
				return token{}, errSyntax
			}
			lx.p++
			lx.stack = append(lx.stack, lx.state)
			if c == '[' {
				lx.state = lexArrayStart
			} else {
				lx.state = lexObjectStart
			}
			return token{kind: tokDelim, delim: c}, nil
		case ']':
			if lx.state != lexArrayStart && lx.state != lexArrayComma {
				return token{}, errSyntax
			}
			lx.p++
			lx.pop()
			return token{kind: tokDelim, delim: c}, nil
		case '}':
			if lx.state != lexObjectStart && lx.state != lexObjectComma {
				return token{}, errSyntax
			}
			lx.p++
			lx.pop()
			return token{kind: tokDelim, delim: c}, nil
		case ':':
			if lx.state != lexObjectColon {
				return token{}, errSyntax
			}
			lx.p++
			lx.state = lexObjectValue
			continue
		case ',':
			switch lx.state {
			case lexArrayComma:
				lx.state = lexArrayValue
			case lexObjectComma:
				lx.state = lexObjectKey
			default:
				return token{}, errSyntax
			}
			lx.p++
			continue
		case '"':
			if lx.state == lexObjectStart || lx.state == lexObjectKey {
				raw, ok := lx.str()
				if !ok {
					return token{}, errSyntax
				}
				lx.state = lexObjectColon
				return token{kind: tokString, raw: raw}, nil
			}
			if !lx.valueAllowed() {
				return token{}, errSyntax
			}
			raw, ok := lx.str()
			if !ok {
				return token{}, errSyntax
			}
			lx.valueEnd()
			return token{kind: tokString, raw: raw}, nil
		default:
			if !lx.valueAllowed() {
				return token{}, errSyntax
			}
			raw, ok := lx.scalar()
			if !ok {
				return token{}, errSyntax
			}
			lx.valueEnd()
			return token{kind: tokScalar, raw: raw}, nil
		}
	}
}

// str reads the string at p (at its opening quote), checking its syntax as
// encoding/json does: no control characters, only JSON's escapes; any
// other byte, valid UTF-8 or not, is the decoder's to replace.
func (lx *lexer) str() ([]byte, bool) {
	b, start := lx.b, lx.p
	i := start + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			lx.p = i + 1
			return b[start:lx.p], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if i+1 >= len(b) {
				return nil, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return nil, false
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, false
					}
				}
				i += 6
			default:
				return nil, false
			}
		default:
			i++
		}
	}
	return nil, false
}

// scalar reads the number or literal at p. Like the Decoder's scanner it
// stops at the first byte that cannot continue it; what follows is the next
// token's to accept or refuse.
func (lx *lexer) scalar() ([]byte, bool) {
	b, start := lx.b, lx.p
	for _, lit := range [...]string{"true", "false", "null"} {
		if b[start] == lit[0] {
			if len(b)-start < len(lit) || string(b[start:start+len(lit)]) != lit {
				return nil, false
			}
			lx.p = start + len(lit)
			return b[start:lx.p], true
		}
	}
	i := start
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		digits()
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	lx.p = i
	return b[start:i], true
}
