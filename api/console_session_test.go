package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

// replica is one server process over a shared store, with its own
// application (its own user directory, following the log) and read models,
// signing console cookies with secret.
func replica(t *testing.T, store eventstore.Store, secret string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	a, err := app.New(app.Config{Store: store, AdminTokenHash: app.HashToken(adminToken), TokenSecret: []byte(secret), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	read, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(t.TempDir(), "projections.db"), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	running := make(chan error, 1)
	go func() { running <- read.Run(ctx) }()
	following := make(chan struct{})
	go func() {
		defer close(following)
		a.Auth.Follow(ctx, 10*time.Millisecond)
	}()
	t.Cleanup(func() {
		stop()
		<-running
		<-following
		_ = read.Close()
	})
	a.Reads = app.NewReads(read, nil)
	a.Activity.Reads = read
	a.Rebuilds = app.NewRebuilds(read, nil, nil)
	srv, err := api.New(api.Config{App: a, Read: read, Registry: reg, SessionSecret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// noRedirects answers each response as it comes, Set-Cookie and all.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consoleGet asks base for path with the session cookie; it answers the
// body and the session cookie the answer set (nil: none).
func consoleGet(t *testing.T, base, path, session string) (string, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "al_session", Value: session})
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.Name == "al_session" {
			return string(b), c
		}
	}
	return string(b), nil
}

// consoleSignIn signs in at base with token and answers the session cookie.
func consoleSignIn(t *testing.T, base, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var signIn *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "al_signin" {
			signIn = c
		}
	}
	if signIn == nil {
		t.Fatal("the sign-in form set no al_signin cookie")
	}
	form := url.Values{"csrf": {csrfIn(t, string(b))}, "token": {token}}
	req, _ = http.NewRequest(http.MethodPost, base+"/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(signIn)
	res, err = noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "al_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("signing in answered %d and no session cookie", res.StatusCode)
	return ""
}

func signedInAs(body, who string) bool {
	return strings.Contains(body, "Sign out") && strings.Contains(body, "Signed in: "+who)
}

// A console session is the cookie alone: another replica over the same
// store with the same secret honours it; a server with another secret, a
// cookie altered by one bit, or a cookie of a token since replaced does not.
func TestConsoleSessionAcrossReplicas(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	const secret = "shared-replica-secret"
	a := replica(t, store, secret)
	b := replica(t, store, secret)
	other := replica(t, store, "another-secret")

	// A coordinator created through replica a signs in there.
	req := func(base, method, path, token, body string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := req(a, http.MethodPost, "/v1/users", adminToken, `{"name":"Aminata Replica","role":"coordinator","district":"Kenema"}`)
	var created struct{ ID, Token string }
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("creating the coordinator: %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || created.Token == "" {
		t.Fatalf("the created user: %+v %v", created, err)
	}
	res.Body.Close()
	cookie := consoleSignIn(t, a, created.Token)

	t.Run("the same secret on another replica and after a restart", func(t *testing.T) {
		if body, _ := consoleGet(t, b, "/", cookie); !signedInAs(body, "Coordinator · Kenema") {
			t.Errorf("replica b does not honour replica a's session:\n%s", body)
		}
		// A server started after the sign-in (a restart) honours it too.
		if body, _ := consoleGet(t, replica(t, store, secret), "/", cookie); !signedInAs(body, "Coordinator · Kenema") {
			t.Errorf("a server started after the sign-in does not honour the session:\n%s", body)
		}
	})
	t.Run("another secret", func(t *testing.T) {
		body, set := consoleGet(t, other, "/", cookie)
		if strings.Contains(body, "Sign out") || !strings.Contains(body, `for="token"`) {
			t.Errorf("a server with another secret honours the session:\n%s", body)
		}
		if set == nil || set.MaxAge >= 0 {
			t.Errorf("the foreign cookie was not cleared: %+v", set)
		}
	})
	t.Run("a tampered cookie", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(cookie)
		if err != nil {
			t.Fatalf("the cookie is not base64url: %v", err)
		}
		for _, at := range []int{0, 1, 20, len(raw) - 40, len(raw) - 1} { // version, times, fingerprint, user id, MAC
			bad := append([]byte(nil), raw...)
			bad[at] ^= 1
			if body, _ := consoleGet(t, a, "/", base64.RawURLEncoding.EncodeToString(bad)); strings.Contains(body, "Sign out") {
				t.Errorf("a cookie with byte %d flipped opens the console", at)
			}
		}
		if body, _ := consoleGet(t, a, "/", cookie+"x"); strings.Contains(body, "Sign out") {
			t.Error("a cookie with a byte added opens the console")
		}
	})
	t.Run("a new token ends the session everywhere", func(t *testing.T) {
		if res := req(a, http.MethodPost, "/v1/users/"+created.ID+"/token", adminToken, "{}"); res.StatusCode != http.StatusOK {
			t.Fatalf("issuing a new token: %d", res.StatusCode)
		}
		for _, base := range []string{a, b} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				body, _ := consoleGet(t, base, "/", cookie)
				if !strings.Contains(body, "Sign out") {
					if !strings.Contains(body, "You have been signed out") {
						t.Errorf("the ended session shows no notice:\n%s", body)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s still honours the session of a replaced token", base)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}
