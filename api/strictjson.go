package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/actionledger/actionledger/domain"
)

// checkKeys walks a JSON body against the struct it will be decoded into and
// refuses what encoding/json would let through silently: a key that matches
// a field only case-insensitively ("TITLE") and a key given twice (the last
// would win). Both would make one logical request hash differently, and a
// retried request could then be refused as a different one. Unknown keys are
// refused here too, with their path ("concerns[0].who"). Anything that is not
// the expected shape is left for the decoder to report.
//
// It also refuses a string that is not valid Unicode (invalid UTF-8 bytes, or
// a lone surrogate escape such as "\ud800"), naming the field: the decoder
// would silently turn it into U+FFFD, so the stored text would differ from
// what was sent (and hashed). A json.RawMessage field is left alone: its
// bytes are decoded, and checked, by whoever reads them (a sync item's body
// by its own route).
func checkKeys(body []byte, t reflect.Type) error {
	w := &walker{lx: lexer{b: body}}
	// A syntax error ends the walk (the decoder reports it, with its
	// offset); only a refusal of the walker's own is returned.
	return asDomain(w.value(t))
}

// walker walks one JSON document token by token. Field names are built only
// for a refusal: the path to the value being walked is kept as segments.
type walker struct {
	lx   lexer
	segs []pathSeg
}

// pathSeg is one step of the path to a value: a key, or an index (idx >= 0).
type pathSeg struct {
	key string
	idx int
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// path names the value being walked: "concerns[0].who"; extra (when not
// nil) is one more key below it.
func (w *walker) path(extra *string) string {
	var b strings.Builder
	add := func(first bool, s pathSeg) {
		if s.idx >= 0 {
			b.WriteString("[" + strconv.Itoa(s.idx) + "]")
			return
		}
		if !first {
			b.WriteByte('.')
		}
		if s.key == "" {
			// An empty key still needs a name the client can read.
			b.WriteString(`""`)
			return
		}
		b.WriteString(s.key)
	}
	for i, s := range w.segs {
		add(i == 0, s)
	}
	if extra != nil {
		add(len(w.segs) == 0, pathSeg{key: *extra, idx: -1})
	}
	return b.String()
}

// token reads the next token; a string that the decoder would have to
// repair (invalid UTF-8 bytes, or a lone surrogate escape such as "\ud800",
// both silently turned into U+FFFD) is refused, named by the path walked.
func (w *walker) token() (token, error) {
	tok, err := w.lx.token()
	if err != nil {
		return tok, err
	}
	if tok.kind == tokString && repairedString(tok.raw) {
		field := w.path(nil)
		if field == "" {
			field = "body"
		}
		return token{}, domain.FieldError(field, "is not valid UTF-8 text (invalid bytes or a lone surrogate escape)")
	}
	return tok, nil
}

// repairedString reports whether the JSON string raw (quotes included, its
// syntax already checked) decodes with more U+FFFD than it spells, literally
// or as a \ufffd escape: the extra ones replaced bytes or escapes that are
// not Unicode.
func repairedString(raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return false // valid UTF-8 and no escape: decoded as it is
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || !strings.ContainsRune(s, utf8.RuneError) {
		return false
	}
	return repaired(s, raw)
}

// repaired reports whether the decoded string s holds more U+FFFD than its
// raw JSON spelling does, literally or as a \ufffd escape: the extra ones
// replaced bytes or escapes that are not Unicode.
func repaired(s string, raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	sent := bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`)) + bytes.Count(raw, []byte(string(utf8.RuneError)))
	return strings.Count(s, string(utf8.RuneError)) > sent
}

func (w *walker) value(t reflect.Type) error {
	lx := &w.lx
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		tok, err := lx.token()
		if err != nil {
			return err
		}
		if tok.kind == tokDelim && (tok.delim == '{' || tok.delim == '[') {
			return w.skip(1, false)
		}
		return nil
	}
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok.kind != tokDelim {
		return nil // a scalar
	}
	switch {
	case tok.delim == '{' && t.Kind() == reflect.Struct:
		fields := structFields(t)
		var seenSmall uint64
		var seenMore map[int]bool
		for lx.more() {
			kt, err := w.token() // a key: named by its object
			if err != nil {
				return err
			}
			kb := kt.text()
			i, ok := fields.index[string(kb)]
			if !ok {
				key := string(kb)
				name := w.path(&key)
				for _, known := range fields.names {
					if strings.EqualFold(known, key) {
						return domain.FieldError(name, "is not a field of this request (field names are lower case: %q)", w.path(&known))
					}
				}
				return domain.FieldError(name, "is not a field of this request")
			}
			seen := false
			if i < 64 {
				seen, seenSmall = seenSmall&(1<<i) != 0, seenSmall|1<<i
			} else {
				if seenMore == nil {
					seenMore = map[int]bool{}
				}
				seen, seenMore[i] = seenMore[i], true
			}
			if seen {
				return domain.FieldError(w.path(&fields.names[i]), "appears twice")
			}
			w.segs = append(w.segs, pathSeg{key: fields.names[i], idx: -1})
			err = w.value(fields.types[i])
			w.segs = w.segs[:len(w.segs)-1]
			if err != nil {
				return err
			}
		}
		if _, err := lx.token(); err != nil { // '}'
			return err
		}
	case tok.delim == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; lx.more(); i++ {
			w.segs = append(w.segs, pathSeg{idx: i})
			err := w.value(t.Elem())
			w.segs = w.segs[:len(w.segs)-1]
			if err != nil {
				return err
			}
		}
		if _, err := lx.token(); err != nil { // ']'
			return err
		}
	default:
		// Not the shape the field wants (or a map): skip it, checking its
		// text; the decoder reports the shape.
		return w.skip(1, true)
	}
	return nil
}

// asDomain passes a refusal on and drops anything else (a syntax error):
// malformed JSON is the decoder's to report, with its offset.
func asDomain(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return nil
}

// skip consumes tokens until depth open delimiters are closed, checking
// every string (as the value walked) when check is set.
func (w *walker) skip(depth int, check bool) error {
	for depth > 0 {
		var tok token
		var err error
		if check {
			tok, err = w.token()
		} else {
			tok, err = w.lx.token()
		}
		if err != nil {
			return err
		}
		if tok.kind == tokDelim {
			if tok.delim == '{' || tok.delim == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// fieldSet is a struct's JSON fields, by name and in declaration order.
type fieldSet struct {
	names []string
	types []reflect.Type
	index map[string]int
}

// fieldSets caches structFields: a request's types are few, and building
// the set per object (reflection and a map) was a good part of the cost of
// every command's decode.
var fieldSets sync.Map // reflect.Type -> *fieldSet

func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	m := jsonFields(t)
	fs := &fieldSet{index: make(map[string]int, len(m))}
	for name := range m {
		fs.names = append(fs.names, name)
	}
	slices.Sort(fs.names)
	for i, name := range fs.names {
		fs.types = append(fs.types, m[name])
		fs.index[name] = i
	}
	fieldSets.Store(t, fs)
	return fs
}

// jsonFields lists the JSON names of t's fields, with embedded structs'
// fields promoted as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
