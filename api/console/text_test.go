package console_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/api/console"
)

// TestLanguageIsChosenPerRequest plays a second language table, as Krio's
// will be: the browser's Accept-Language or the al_lang cookie picks it,
// and a key it lacks is shown in English.
func TestLanguageIsChosenPerRequest(t *testing.T) {
	second := map[string]string{}
	for _, k := range console.Keys("en") {
		second[k] = "[xx] " + k
	}
	second["percent"] = "%.1f%%"
	delete(second, "token_help") // untranslated yet: English shows
	remove := console.AddTable("xx", maps.Clone(second))
	defer remove()
	h := newHarness(t)

	tests := []struct {
		name           string
		acceptLanguage string
		cookie         string
		wantLang       string
	}{
		{name: "asked for first", acceptLanguage: "xx, en;q=0.8", wantLang: "xx"},
		{name: "with a region", acceptLanguage: "xx-SL", wantLang: "xx"},
		{name: "preferred less than English", acceptLanguage: "en-GB, xx;q=0.5", wantLang: "en"},
		{name: "not asked for", acceptLanguage: "fr", wantLang: "en"},
		{name: "the cookie wins", acceptLanguage: "en", cookie: "xx", wantLang: "xx"},
		{name: "a cookie for no table", acceptLanguage: "xx", cookie: "zz", wantLang: "xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Language", tc.acceptLanguage)
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "al_lang", Value: tc.cookie})
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if got := rec.Header().Get("Content-Language"); got != tc.wantLang {
				t.Errorf("Content-Language %q, want %q", got, tc.wantLang)
			}
			if !strings.Contains(body, `<html lang="`+tc.wantLang+`">`) {
				t.Errorf("the page is not marked lang=%q", tc.wantLang)
			}
			translated := strings.Contains(body, "[xx] sign_in")
			if translated != (tc.wantLang == "xx") {
				t.Errorf("text from the xx table: %v, want %v", translated, tc.wantLang == "xx")
			}
			if tc.wantLang == "xx" && !strings.Contains(body, "It starts with alt_.") {
				t.Error("a key the table lacks is not shown in English")
			}
		})
	}
}
