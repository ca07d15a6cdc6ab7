package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/domain"
)

// The decoders every request goes through, fuzzed. Seeds are in
// testdata/fuzz/<target>; `go test` runs them as plain tests, and .ci/run
// fuzzes each target for a few seconds.

// FuzzDecodeBody: any body is either accepted or refused with a 400 naming
// a field; it never panics or hangs. An accepted body is one JSON object of
// valid UTF-8 whose keys are all known, lower case and given once, so it
// decodes the same under encoding/json's looser rules.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"kind":"follow_up","trust_rating":3,"concerns":[{"need":"basic","text":"no water"}]}`))
	f.Add([]byte(`{"id":"AP-1","community_id":"KEN-1","title":"Hand-washing","category":"hygiene","kind":"one_off","due_date":"2015-03-01"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, decode := range map[string]func([]byte) error{"visit": api.DecodeVisit, "action point": api.DecodeActionPoint} {
			err := decode(body)
			if err != nil {
				var de *domain.Error
				if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field == "" {
					t.Fatalf("%s: %q refused without a field: %v", name, body, err)
				}
				continue
			}
			trimmed := bytes.TrimSpace(body)
			if len(trimmed) == 0 {
				continue // an empty body is an empty object
			}
			if !utf8.Valid(body) {
				t.Fatalf("%s: accepted invalid UTF-8 %q", name, body)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s: accepted %q, which is not one JSON object: %v", name, body, err)
			}
			for k, v := range m {
				if strings.ToLower(k) != k {
					t.Fatalf("%s: accepted key %q", name, k)
				}
				var s string
				if json.Unmarshal(v, &s) == nil && strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(bytes.ToLower(v), []byte(`\ufffd`)) && !bytes.ContainsRune(v, utf8.RuneError) {
					t.Fatalf("%s: accepted %s for %q, which decodes with a replacement character", name, v, k)
				}
			}
		}
	})
}

// FuzzSyncBatch: any batch body is either a well-formed batch (at most 500
// items, each with its own visible-ASCII key, a method token and a path on
// this server other than the batch route) or a 4xx refusal naming the field.
func FuzzSyncBatch(f *testing.F) {
	f.Add([]byte(`{"items":[{"key":"p1","method":"POST","path":"/v1/communities/KEN-1/visits","body":{"kind":"initial","trust_rating":3}}]}`), false)
	f.Add([]byte(`{"occurred_at":"2015-02-16T18:02:00Z","items":[{"key":"a","method":"get","path":"/v1/action-points?district=Kenema"},{"key":"b","method":"POST","path":"/v1/./sync"}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		r := httptest.NewRequest(http.MethodPost, "/v1/sync", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if gzipped {
			r.Header.Set("Content-Encoding", "gzip")
		}
		items, _, err := api.ReadSyncBatch(r)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("%q refused with %v, not a problem", body, err)
			}
			if de.Code == domain.CodeInvalid && de.Field == "" {
				t.Fatalf("%q refused without naming the field: %v", body, err)
			}
			return
		}
		if len(items) > api.MaxSyncItems {
			t.Fatalf("%d items accepted", len(items))
		}
		keys := map[string]bool{}
		for i, it := range items {
			if it.Key == "" || keys[it.Key] || strings.ContainsFunc(it.Key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
				t.Fatalf("item %d: key %q accepted", i, it.Key)
			}
			keys[it.Key] = true
			if it.Method == "" || strings.ToUpper(it.Method) != it.Method {
				t.Fatalf("item %d: method %q accepted", i, it.Method)
			}
			if !strings.HasPrefix(it.Path, "/") || strings.HasPrefix(it.Path, "//") && strings.Contains(it.Path[2:], "/") {
				t.Fatalf("item %d: path %q accepted", i, it.Path)
			}
		}
	})
}

// FuzzCheckKeysAsDecoder: the strict key check reads bodies with its own
// lexer; it refuses exactly what the walk over encoding/json's tokens
// refused, naming the same field with the same message.
func FuzzCheckKeysAsDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"follow_up","trust_rating":3,"concerns":[{"need":"basic","text":"no water"}]}`,
		`{"id":"AP-1","community_id":"KEN-1","title":"Hand-washing","category":"hygiene","kind":"one_off","due_date":"2015-03-01"}`,
		`{"items":[{"key":"p1","method":"POST","path":"/v1/x","body":{"kind":"initial","Bogus":[1,{"a":"\ud800"}]}}]}`,
		`{"kind":"a","kind":"b"}`, `{"KIND":"a"}`, `{"":1}`, `{"concerns":[{"need":"basic","who":1}]}`,
		`{"concerns":[[1,2],{"x":1}]}`, `{"title":"\ud83d\ude00 \ufffd ` + "\xff" + `"}`, `{"title":"\u00e9\ud800x"}`,
		`{"concerns":{"need":"` + "\xc3" + `"}}`, `[{"a":1}]`, `{"kind":1.5e+3,"title":true,"id":null}`,
		`{"kind":01}`, `{"kind":-}`, `{"kind":"a",}`, `{"kind" "a"}`, `{"kind":"a"}{"x":1}`, `{"k\u0069nd":"a","kind":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{"visit", "action point", "sync batch", "sync item"} {
			got, want := api.CheckKeysBoth(body, kind)
			if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
				t.Fatalf("%s %q: got %v, the Decoder's walk gave %v", kind, body, got, want)
			}
			var g, w *domain.Error
			if errors.As(got, &g) && errors.As(want, &w) && (g.Field != w.Field || g.Message != w.Message || g.Code != w.Code) {
				t.Fatalf("%s %q: got %+v, the Decoder's walk gave %+v", kind, body, g, w)
			}
		}
	})
}

// FuzzDecodeAsStrict: the routes decode a body with json.Unmarshal once its
// keys are checked, and fall back to the strict decoder (unknown fields
// refused, exactly one value) for anything Unmarshal refuses. Whatever the
// body, that answers exactly what the strict decoder alone would: the same
// value, or the same refusal.
func FuzzDecodeAsStrict(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"follow_up","trust_rating":3,"concerns":[{"need":"basic","text":"no water"}]}`,
		`{"kind":"initial"} {"kind":"follow_up"}`,
		`{"kind":"initial"} x`,
		`{"trust_rating":"three"}`,
		`{"concerns":{"need":"basic"}}`,
		`{"id":"AP-1","due_date":"2015-03-01","extra":1}`,
		`{"items":[{"key":"k1","method":"POST","path":"/v1/feedback","body":{"id":"F-1"}}]}`,
		`[]`, `null`, ``, `{"kind":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{"visit", "action point", "sync batch", "sync item"} {
			got, want, gotErr, wantErr := api.DecodeBothWays(body, kind)
			switch {
			case (gotErr == nil) != (wantErr == nil):
				t.Fatalf("%s %q: routes answer %v, the strict decoder %v", kind, body, gotErr, wantErr)
			case gotErr != nil && gotErr.Error() != wantErr.Error():
				t.Fatalf("%s %q: routes refuse with %q, the strict decoder with %q", kind, body, gotErr, wantErr)
			case gotErr == nil && !reflect.DeepEqual(got, want):
				t.Fatalf("%s %q: routes decode %+v, the strict decoder %+v", kind, body, got, want)
			}
		}
	})
}
