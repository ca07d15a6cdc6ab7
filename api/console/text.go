package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The console's words live in one table per language, keyed alike: a page
// never holds a sentence of its own. English is the reference every other
// table must match key for key (a test checks it); a key a table lacks is
// shown in English. To add Krio, add text_kri.go with a table under "kri".

// defaultLang is the language of a browser that asks for none we have.
const defaultLang = "en"

// langCookie holds a language chosen explicitly; it wins over the
// browser's Accept-Language.
const langCookie = "al_lang"

// tables holds every language's strings.
var tables = map[string]map[string]string{
	"en": english,
}

// Languages lists the language codes with a table, English first.
func Languages() []string {
	out := []string{defaultLang}
	for l := range tables {
		if l != defaultLang {
			out = append(out, l)
		}
	}
	slices.Sort(out[1:])
	return out
}

// Keys lists the keys of a language's table (for tests of completeness).
func Keys(lang string) []string {
	var out []string
	for k := range tables[lang] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// text looks key up in lang's table, then in English; ok is false when
// neither has it.
func text(lang, key string) (string, bool) {
	if s, ok := tables[lang][key]; ok {
		return s, true
	}
	s, ok := tables[defaultLang][key]
	return s, ok
}

// language picks the page language: the cookie's when we have it, else the
// best of Accept-Language we have, else English.
func language(r *http.Request) string {
	if l := cookieValue(r, langCookie); tables[l] != nil {
		return l
	}
	best, bestQ := defaultLang, 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if tables[primary] != nil && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}
