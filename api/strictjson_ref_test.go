package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/actionledger/actionledger/domain"
)

// The checkKeys that walked the body with encoding/json's Decoder.Token,
// kept as the reference the allocation-free lexer is compared against
// (FuzzCheckKeysAsDecoder): both must refuse the same bodies with the same
// field and message.

// CheckKeysBoth runs checkKeys and the reference on body for the request
// type named by kind ("visit", "action point", "sync batch", "sync item").
func CheckKeysBoth(body []byte, kind string) (got, want error) {
	var t reflect.Type
	switch kind {
	case "visit":
		t = reflect.TypeOf(&visitBody{})
	case "action point":
		t = reflect.TypeOf(&raiseActionPointBody{})
	case "sync batch":
		t = reflect.TypeOf(&syncRequest{})
	default:
		t = reflect.TypeOf(&SyncItem{})
	}
	return checkKeys(body, t), refCheckKeys(body, t)
}

func refCheckKeys(body []byte, t reflect.Type) error {
	w := &refWalker{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	w.dec.UseNumber()
	// A syntax error ends the walk (the decoder reports it, with its
	// offset); only a refusal of the refWalker's own is returned. Stopping at
	// the first error matters: the decoder's More keeps answering true
	// after a syntax error, so a loop over an array would never end.
	return asDomain(w.value(t, ""))
}

// refWalker walks one JSON document token by token, with the raw bytes beside
// it to check each string as sent.
type refWalker struct {
	dec  *json.Decoder
	body []byte
}

var refRawMessageType = reflect.TypeOf(json.RawMessage(nil))

// token reads the next token; a string that the decoder had to repair is
// refused with field as its name.
func (w *refWalker) token(field string) (json.Token, error) {
	from := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, err
	}
	if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) {
		to := w.dec.InputOffset()
		if from < 0 || to > int64(len(w.body)) || from > to {
			return tok, nil
		}
		if raw := w.body[from:to]; refRepaired(s, raw) {
			if field == "" {
				field = "body"
			}
			return nil, domain.FieldError(field, "is not valid UTF-8 text (invalid bytes or a lone surrogate escape)")
		}
	}
	return tok, nil
}

// repaired reports whether the decoded string s holds more U+FFFD than its
// raw JSON spelling does, literally or as a \ufffd escape: the extra ones
// replaced bytes or escapes that are not Unicode.
func refRepaired(s string, raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	sent := bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`)) + bytes.Count(raw, []byte(string(utf8.RuneError)))
	return strings.Count(s, string(utf8.RuneError)) > sent
}

func (w *refWalker) value(t reflect.Type, path string) error {
	dec := w.dec
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	field := strings.TrimSuffix(path, ".")
	if t == refRawMessageType {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
			return w.skip(1, "", false)
		}
		return nil
	}
	tok, err := w.token(field)
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil // a scalar
	}
	switch {
	case delim == '{' && t.Kind() == reflect.Struct:
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := w.token(field) // a key: named by its object
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			name := path + key
			if key == "" {
				// An empty key still needs a name the client can read.
				name = path + `""`
			}
			if seen[key] {
				return domain.FieldError(name, "appears twice")
			}
			seen[key] = true
			ft, ok := fields[key]
			if !ok {
				for known := range fields {
					if strings.EqualFold(known, key) {
						return domain.FieldError(name, "is not a field of this request (field names are lower case: %q)", path+known)
					}
				}
				return domain.FieldError(name, "is not a field of this request")
			}
			if err := w.value(ft, name+"."); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return err
		}
	case delim == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		base := strings.TrimSuffix(path, ".")
		for i := 0; dec.More(); i++ {
			if err := w.value(t.Elem(), base+"["+strconv.Itoa(i)+"]."); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return err
		}
	default:
		// Not the shape the field wants (or a map): skip it, checking its
		// text; the decoder reports the shape.
		return w.skip(1, field, true)
	}
	return nil
}

// skip consumes tokens until depth open delimiters are closed, checking
// every string as field when check is set.
func (w *refWalker) skip(depth int, field string, check bool) error {
	for depth > 0 {
		var tok json.Token
		var err error
		if check {
			tok, err = w.token(field)
		} else {
			tok, err = w.dec.Token()
		}
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}
