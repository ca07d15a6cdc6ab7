package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOverloadTurnsTheExcessAway: with every slot taken, one more request
// waits the queue wait and is answered 503 overloaded with Retry-After,
// naming nothing wrong with the request itself; probes still answer; when
// the slot comes free the next request is served and the held one lands.
func TestOverloadTurnsTheExcessAway(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	a, err := app.New(app.Config{Store: store, AdminTokenHash: app.HashToken(adminToken),
		TokenSecret: []byte("test-token-secret"), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{App: a, MaxInFlight: 1, QueueWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	// The one slot: a user creation whose body is still arriving.
	pr, pw := io.Pipe()
	held := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/users", pr)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"name":"Held", `)); err != nil {
		t.Fatal(err)
	}

	get := func(path string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	cases := []struct {
		name, path string
		status     int
		code       string
	}{
		{"a request beyond the bound", "/v1/users", http.StatusServiceUnavailable, "overloaded"},
		{"the liveness probe", "/healthz", http.StatusOK, ""},
		{"the readiness probe", "/readyz", http.StatusOK, ""},
		{"the process metrics", "/metrics", http.StatusOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			if body["code"] != tc.code || resp.Header.Get("Retry-After") == "" {
				t.Errorf("code %v, Retry-After %q; want %s and a Retry-After", body["code"], resp.Header.Get("Retry-After"), tc.code)
			}
		})
	}

	if _, err := pw.Write([]byte(`"role":"auditor"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if st := <-held; st != http.StatusCreated {
		t.Fatalf("the request holding the slot answered %d, want 201", st)
	}
	if resp, body := get("/v1/users"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slot came free: %d %v", resp.StatusCode, body)
	}
}
