package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/actionledger/actionledger/domain"
)

// checkKeys walks a JSON body against the struct it will be decoded into and
// refuses what encoding/json would let through silently: a key that matches
// a field only case-insensitively ("TITLE") and a key given twice (the last
// would win). Both would make one logical request hash differently, and a
// retried request could then be refused as a different one. Unknown keys are
// refused here too, with their path ("concerns[0].who"). Anything that is not
// the expected shape is left for the decoder to report.
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return walkValue(dec, t, "")
}

func walkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return nil // malformed JSON: the decoder says so
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
			kt, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := kt.(string)
			name := path + key
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
			if err := walkValue(dec, ft, name+"."); err != nil {
				return err
			}
		}
		_, _ = dec.Token() // '}'
	case delim == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		base := strings.TrimSuffix(path, ".")
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, t.Elem(), base+"["+strconv.Itoa(i)+"]."); err != nil {
				return err
			}
		}
		_, _ = dec.Token() // ']'
	default:
		// Not the shape the field wants: skip it; the decoder reports it.
		return skipRest(dec, 1)
	}
	return nil
}

// skipRest consumes tokens until depth open delimiters are closed.
func skipRest(dec *json.Decoder, depth int) error {
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return nil
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
