package console

// AddTable installs a language table for a test (before New, which parses
// the pages of every language); the returned func removes it.
func AddTable(lang string, table map[string]string) (remove func()) {
	tables[lang] = table
	return func() { delete(tables, lang) }
}
