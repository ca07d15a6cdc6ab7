package kurrentstore

import (
	"errors"
	"net/url"
	"strings"
)

// passwordMask replaces a password wherever a connection string could be
// shown.
const passwordMask = "xxxxx"

// MaskURL returns the connection string with its password replaced, for logs
// and error messages. It works on strings url.Parse refuses too (KurrentDB's
// "esdb://host1:2113,host2:2113" seed lists), and never returns the password:
// a string it cannot make sense of comes back as "(unparsable connection
// string)". The empty string stays empty.
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	user, pass, ok := userinfo(raw)
	if !ok {
		return "(unparsable connection string)"
	}
	if pass == "" {
		return raw
	}
	scheme, rest, _ := strings.Cut(raw, "://")
	at := strings.LastIndex(authority(rest), "@")
	return scheme + "://" + user + ":" + passwordMask + rest[at:]
}

// authority is the part of rest (a URL after "scheme://") up to the path,
// query or fragment.
func authority(rest string) string {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return rest[:i]
	}
	return rest
}

// userinfo returns the user and password of a connection string, as written
// (still percent-encoded). ok is false when raw has no "scheme://".
func userinfo(raw string) (user, pass string, ok bool) {
	_, rest, found := strings.Cut(raw, "://")
	if !found {
		return "", "", false
	}
	auth := authority(rest)
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return "", "", true
	}
	user, pass, _ = strings.Cut(auth[:at], ":")
	return user, pass, true
}

// redactor removes a connection string's password from text that may quote
// it (url.Parse errors quote their whole input; the client library's log
// lines may name the URL).
type redactor struct {
	secrets []string
}

func newRedactor(raw string) redactor {
	var r redactor
	_, pass, _ := userinfo(raw)
	if pass == "" {
		return r
	}
	r.secrets = append(r.secrets, pass)
	if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
		r.secrets = append(r.secrets, dec)
	}
	return r
}

func (r redactor) string(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, passwordMask)
	}
	return s
}

// error returns err with the password removed from its text. The chain is
// cut (errors.Is no longer sees through it) only when the text had to
// change, so that sentinel errors survive in the common case.
func (r redactor) error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := r.string(msg); clean != msg {
		return errors.New(clean)
	}
	return err
}
