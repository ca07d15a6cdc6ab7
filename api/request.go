package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// maxBody bounds a command's body. The largest legitimate one, a visit with
// fifty concerns of 4,000 characters, fits well within it.
const maxBody = 256 << 10

// maxKey bounds an Idempotency-Key; UUIDs and ULIDs are far shorter.
const maxKey = 200

// command is what every write route reads before its own fields: the
// caller, the request's body, and the envelope fields that apply to every
// command.
type command struct {
	meta app.Meta
	body []byte
}

// readCommand authenticates nothing (the middleware did) but reads and checks
// everything common to writes: content type, body size, Idempotency-Key,
// If-Match, and decodes the body into dst, refusing unknown fields.
func readCommand(r *http.Request, dst any) (*command, error) {
	// Refuse only what cannot be JSON. curl's -d sends
	// application/x-www-form-urlencoded by default, and a mobilizer's
	// helper script that forgot the header deserves a JSON error about its
	// body, not a 415.
	// The usual value is let through without parsing it (ParseMediaType
	// allocates a map for its parameters).
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || strings.HasPrefix(mt, "multipart/") || strings.HasSuffix(mt, "xml") {
			return nil, domain.Errorf(codeUnsupportedMedia, "send the body as application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, domain.Errorf(codeBodyTooLarge, "the body is larger than %d bytes", maxBody)
		}
		return nil, domain.Errorf(domain.CodeInvalid, "reading the body: %v", err)
	}
	if err := decodeJSON(body, dst); err != nil {
		return nil, err
	}
	c := &command{body: body}
	c.meta.Actor = actorFrom(r.Context())
	c.meta.CorrelationID = correlationID(r)
	c.meta.CausationID = requestID(r.Context())
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > maxKey || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return nil, domain.FieldError("Idempotency-Key", "must be 1 to %d visible ASCII characters", maxKey)
		}
		c.meta.IdempotencyKey = key
		c.meta.RequestHash = app.RequestHash(r.Method, r.URL.Path, body)
	}
	if v := r.Header.Get("If-Match"); v != "" && v != "*" {
		if strings.HasPrefix(strings.TrimSpace(v), "W/") {
			// RFC 9110 13.1.1: If-Match compares strongly, and a weak tag
			// never matches; accepting it would let a caller believe a
			// precondition held that was never checked.
			return nil, domain.FieldError("If-Match", "is a weak ETag (W/...); If-Match uses strong comparison: send the ETag as a read returned it, e.g. \"3\"")
		}
		rev, err := parseETag(v)
		if err != nil {
			return nil, domain.FieldError("If-Match", "must be an ETag as returned by a read, e.g. \"3\"")
		}
		c.meta.IfMatch = &rev
	}
	return c, nil
}

func parseETag(v string) (uint64, error) {
	v = strings.TrimSpace(v)
	v = strings.Trim(v, `"`)
	return strconv.ParseUint(v, 10, 64)
}

func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// decodeJSON decodes one JSON object into dst. An empty body is an empty
// object (transitions without fields). Errors name the field at fault.
func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := checkKeys(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	// checkKeys has refused unknown, repeated and mis-cased keys, so a body
	// that json.Unmarshal takes whole is one the strict decoder below takes
	// too, with the same result (FuzzDecodeAsStrict); Unmarshal reads the
	// body in place, where a Decoder is allocated and copies the body into
	// a buffer of its own (8% of what an import allocated). A body it
	// refuses goes to the strict decoder, whose errors the answers word.
	if json.Unmarshal(body, dst) == nil {
		return nil
	}
	reflect.ValueOf(dst).Elem().SetZero()
	return decodeStrict(body, dst)
}

// decodeStrict decodes body, one JSON object, into dst with unknown fields
// refused.
func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return domain.FieldError("body", "must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return domain.FieldError("body", "is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.FieldError("body", "must be a JSON object")
		}
		return domain.FieldError(typ.Field, "must be %s", jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.FieldError("body", "is truncated JSON")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return domain.FieldError(strings.Trim(f, `"`), "is not a field of this request")
	}
	return domain.FieldError("body", "is not acceptable JSON: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "uint64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "of another type"
	}
	return "of another type"
}

// parseTime reads an optional RFC 3339 time from a body field.
func parseTime(field string, v *string) (time.Time, error) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, domain.FieldError(field, "must be an RFC 3339 time, e.g. 2015-02-14T09:30:00Z")
	}
	return t, nil
}

// envelope are the fields every write body may carry.
type envelope struct {
	OccurredAt *string `json:"occurred_at"`
}

// apply copies the envelope into the command's meta.
func (e envelope) apply(c *command) error {
	t, err := parseTime("occurred_at", e.OccurredAt)
	if err != nil {
		return err
	}
	c.meta.OccurredAt = t
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
