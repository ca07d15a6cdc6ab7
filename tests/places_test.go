package tests_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// TestUnknownPlacesRefused checks, over HTTP on the real wiring, that every
// route naming a place refuses one the places list does not know with a 400
// naming the field and the closest known names — never a 201 into
// "Atlantis", an empty 200 or a 403.
func TestUnknownPlacesRefused(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	community := func(district, chiefdom string) map[string]any {
		return map[string]any{"name": "Kpetema", "district": district, "chiefdom": chiefdom, "section": "Hangha"}
	}
	tests := []struct {
		name        string
		r           req
		field       string
		suggestions []string
		detail      string
	}{
		{name: "community in Atlantis", r: req{method: "POST", path: "/v1/communities", token: "coord-national", body: community("Atlantis", "Nongowa")},
			field: "district", detail: `unknown district "Atlantis"`},
		{name: "community in a misspelt chiefdom", r: req{method: "POST", path: "/v1/communities", token: "coord", body: community("Kenema", "Nongwa")},
			field: "chiefdom", suggestions: []string{"Nongowa"}, detail: "did you mean Nongowa?"},
		{name: "community in a misspelt district", r: req{method: "POST", path: "/v1/communities", token: "coord", body: community("Kenama", "Nongowa")},
			field: "district", suggestions: []string{"Kenema"}},
		{name: "community in a chiefdom of another district", r: req{method: "POST", path: "/v1/communities", token: "coord-national", body: community("Bo", "Nongowa")},
			field: "chiefdom", detail: "Nongowa is in Kenema"},
		{name: "community without a chiefdom", r: req{method: "POST", path: "/v1/communities", token: "coord", body: map[string]any{"name": "X", "district": "Kenema"}},
			field: "chiefdom"},
		{name: "mobilizer in Kenama", r: req{method: "POST", path: "/v1/users", token: "admin", body: map[string]any{"name": "Fatmata K.", "role": "mobilizer", "district": "Kenama"}},
			field: "district", suggestions: []string{"Kenema"}, detail: "did you mean Kenema?"},
		{name: "mobilizer in a misspelt chiefdom", r: req{method: "POST", path: "/v1/users", token: "admin", body: map[string]any{"name": "Fatmata K.", "role": "mobilizer", "district": "Kenema", "chiefdom": "Nongwa"}},
			field: "chiefdom", suggestions: []string{"Nongowa"}},
		{name: "user with a chiefdom but no district", r: req{method: "POST", path: "/v1/users", token: "admin", body: map[string]any{"name": "Fatmata K.", "role": "mobilizer", "chiefdom": "Nongowa"}},
			field: "district", detail: "Nongowa is in Kenema"},
		{name: "completion of Kenama", r: req{method: "GET", path: "/v1/stats/completion?district=Kenama", token: "auditor"},
			field: "district", suggestions: []string{"Kenema"}},
		// Not a 403: the Kenema coordinator misspelt their own district.
		{name: "completion of Kenama by the Kenema coordinator", r: req{method: "GET", path: "/v1/stats/completion?district=Kenama", token: "coord"},
			field: "district", suggestions: []string{"Kenema"}},
		{name: "trust of a misspelt chiefdom", r: req{method: "GET", path: "/v1/stats/trust?district=Kenema&chiefdom=Nongwa", token: "coord"},
			field: "chiefdom", suggestions: []string{"Nongowa"}},
		{name: "referrals of Atlantis", r: req{method: "GET", path: "/v1/stats/referrals?district=Atlantis", token: "coord-national"}, field: "district"},
		{name: "feedback of Kenama", r: req{method: "GET", path: "/v1/stats/feedback?district=Kenama", token: "auditor"}, field: "district"},
		{name: "follow-up list of Kenama", r: req{method: "GET", path: "/v1/action-points?district=Kenama", token: "mob"},
			field: "district", suggestions: []string{"Kenema"}},
		{name: "audit events of Kenama", r: req{method: "GET", path: "/v1/audit/events?district=Kenama", token: "auditor"},
			field: "district", suggestions: []string{"Kenema"}},
		{name: "as-of of a misspelt chiefdom", r: req{method: "GET", path: "/v1/audit/as-of?at=2026-01-01&district=Kenema&chiefdom=Nongwa", token: "auditor"},
			field: "chiefdom", suggestions: []string{"Nongowa"}},
		{name: "export of Kenama", r: req{method: "GET", path: "/v1/audit/export?format=csv&district=Kenama", token: "auditor"},
			field: "district", suggestions: []string{"Kenema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.on(t).problem(tt.r, http.StatusBadRequest, "invalid_input", tt.field)
			if tt.suggestions != nil {
				var got []string
				for _, s := range arrOf(res.body["suggestions"]) {
					got = append(got, s.(string))
				}
				if !slices.Equal(got, tt.suggestions) {
					t.Errorf("suggestions %q, want %q: %s", got, tt.suggestions, res.raw)
				}
			}
			if !strings.Contains(res.str("detail"), tt.detail) {
				t.Errorf("detail %q does not say %q", res.str("detail"), tt.detail)
			}
		})
	}

	// A queued write into a misspelt place is refused inside a sync batch
	// as it would be alone.
	t.Run("sync", func(t *testing.T) {
		res := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "coord", body: map[string]any{"items": []any{
			map[string]any{"key": "phone-1", "method": "POST", "path": "/v1/communities", "body": community("Kenema", "Nongwa")},
		}}})
		item, _ := arrOf(res.body["results"])[0].(map[string]any)
		body, _ := item["body"].(map[string]any)
		if item["status"] != float64(http.StatusBadRequest) || body["field"] != "chiefdom" || !slices.Equal(arrOf(body["suggestions"]), []any{"Nongowa"}) {
			t.Errorf("sync item: %v, want a 400 on chiefdom suggesting Nongowa", item)
		}
	})
}

// TestPlacesStoredCanonically checks that a place is stored as the places
// list spells it, whatever the case and spaces it was sent with.
func TestPlacesStoredCanonically(t *testing.T) {
	e := start(t)
	e.staff()
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-9", "name": "Kpetema", "district": "  kenema ", "chiefdom": "lower   BAMBARA", "section": " tongo  field "}})
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/communities/KEN-9", token: "coord"})
	if view.str("district") != "Kenema" || view.str("chiefdom") != "Lower Bambara" || view.str("section") != "tongo field" {
		t.Errorf("stored place %q / %q / %q, want Kenema / Lower Bambara / the section as typed: %s",
			view.str("district"), view.str("chiefdom"), view.str("section"), view.raw)
	}
	e.user("mob-nongowa", "mobilizer", " KENEMA", "nongowa ")
	events := e.must(http.StatusOK, req{method: "GET", path: "/v1/streams/users/events", token: "auditor"})
	found := false
	for _, ev := range arrOf(events.body["events"]) {
		data, _ := ev.(map[string]any)["data"].(map[string]any)
		area, _ := data["area"].(map[string]any)
		if area["chiefdom"] != nil {
			found = true
			if area["district"] != "Kenema" || area["chiefdom"] != "Nongowa" {
				t.Errorf("user area stored as %v, want Kenema/Nongowa", area)
			}
		}
	}
	if !found {
		t.Errorf("no user with a chiefdom in the users stream: %s", events.raw)
	}
	// The filter in another spelling reads the same place.
	e.must(http.StatusOK, req{method: "GET", path: "/v1/stats/completion?district=KENEMA&chiefdom=lower+bambara", token: "coord"})
}

// TestPlacesTree checks GET /v1/places: every role may ask, and each sees
// the places of their own area.
func TestPlacesTree(t *testing.T) {
	e := start(t)
	e.staff()
	e.user("coord-nongowa", "coordinator", "Kenema", "Nongowa")
	type district struct {
		code, name string
		chiefdoms  int
	}
	read := func(t *testing.T, token string) []district {
		t.Helper()
		res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/places", token: token})
		var out []district
		for _, d := range arrOf(res.body["districts"]) {
			m := d.(map[string]any)
			out = append(out, district{m["code"].(string), m["name"].(string), len(arrOf(m["chiefdoms"]))})
		}
		return out
	}
	for _, tc := range []struct {
		token     string
		districts int
		chiefdoms int
	}{{"admin", 16, 167}, {"coord-national", 16, 167}, {"auditor", 16, 167}} {
		t.Run(tc.token, func(t *testing.T) {
			ds := read(t, tc.token)
			n := 0
			for _, d := range ds {
				n += d.chiefdoms
			}
			if len(ds) != tc.districts || n != tc.chiefdoms {
				t.Errorf("%d districts, %d chiefdoms; want %d and %d", len(ds), n, tc.districts, tc.chiefdoms)
			}
		})
	}
	for _, tc := range []struct {
		token string
		want  []district
	}{
		{"coord", []district{{"SL0102", "Kenema", 17}}},
		{"mob", []district{{"SL0102", "Kenema", 17}}},
		{"mob-kailahun", []district{{"SL0101", "Kailahun", 14}}},
		{"coord-nongowa", []district{{"SL0102", "Kenema", 1}}},
	} {
		t.Run(tc.token, func(t *testing.T) {
			if got := read(t, tc.token); !slices.Equal(got, tc.want) {
				t.Errorf("places %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("chiefdom user sees only their chiefdom", func(t *testing.T) {
		res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/places", token: "coord-nongowa"})
		ch := arrOf(arrOf(res.body["districts"])[0].(map[string]any)["chiefdoms"])[0].(map[string]any)
		if ch["code"] != "SL010212" || ch["name"] != "Nongowa" {
			t.Errorf("chiefdom %v, want SL010212 Nongowa", ch)
		}
	})
	t.Run("no token", func(t *testing.T) {
		e.on(t).problem(req{method: "GET", path: "/v1/places"}, http.StatusUnauthorized, "unauthenticated", "")
	})
	t.Run("a parameter", func(t *testing.T) {
		e.on(t).problem(req{method: "GET", path: "/v1/places?" + url.Values{"district": {"Kenema"}}.Encode(), token: "coord"},
			http.StatusBadRequest, "invalid_input", "district")
	})
}

func arrOf(v any) []any {
	a, _ := v.([]any)
	return a
}

// TestAnotherCountrysPlaces boots the server with another country's places
// file (serve --places): its places are the ones accepted and served, and
// Sierra Leone's are not. A bad file stops the start, naming its line.
func TestAnotherCountrysPlaces(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "places.csv")
	const list = "# a made-up country, for the test\n" +
		"district_code,district,chiefdom_code,chiefdom\n" +
		"N1,North,N1-01,Hilltop\n" +
		"N1,North,N1-02,Riverside\n" +
		"S1,South,S1-01,Coast\n"
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startWith(t, server.Config{DataDir: filepath.Join(dir, "data"), PlacesFile: file})
	e.user("coord-north", "coordinator", "north", "")
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord-north",
		body: map[string]any{"id": "N-1", "name": "Village", "district": "North", "chiefdom": " HILLTOP"}})
	if v := e.must(http.StatusOK, req{method: "GET", path: "/v1/communities/N-1", token: "coord-north"}); v.str("chiefdom") != "Hilltop" {
		t.Errorf("chiefdom %q, want Hilltop", v.str("chiefdom"))
	}
	res := e.problem(req{method: "POST", path: "/v1/users", token: "admin", body: map[string]any{"name": "M", "role": "mobilizer", "district": "Kenema"}},
		http.StatusBadRequest, "invalid_input", "district")
	if !strings.Contains(res.str("detail"), `unknown district "Kenema"`) {
		t.Errorf("detail %q", res.str("detail"))
	}
	tree := e.must(http.StatusOK, req{method: "GET", path: "/v1/places", token: "admin"})
	if ds := arrOf(tree.body["districts"]); len(ds) != 2 || ds[0].(map[string]any)["code"] != "N1" {
		t.Errorf("places %s, want North and South", tree.raw)
	}

	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(list+"S1,South,S1-02,coast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := server.Open(context.Background(), server.Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data2"),
		AdminToken: adminToken, TokenSecret: tokenSecret, PlacesFile: bad}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("opening with a duplicate chiefdom: %v, want an error naming line 6", err)
	}
}

// startWith boots the real wiring like start, with cfg's other settings.
func startWith(t *testing.T, cfg server.Config) *env {
	t.Helper()
	cfg.Addr, cfg.AdminToken, cfg.TokenSecret = "127.0.0.1:0", adminToken, tokenSecret
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, cfg, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, base: m.URL(), dataDir: cfg.DataDir, main: m, tokens: map[string]string{"admin": adminToken}}
}
