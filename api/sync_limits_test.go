package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

// syncServer is the API on a fresh store with the given batch deadline.
func syncServer(t *testing.T, deadline time.Duration) (*httptest.Server, *boltstore.Store) {
	t.Helper()
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
	srv, err := api.New(api.Config{App: a, SyncDeadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, store
}

func post(t *testing.T, ts *httptest.Server, token, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestSyncBatchDeadline: items a batch did not reach within its one deadline
// answer 503 sync_item_not_run (safe to resend), the batch still answers
// 200 with a result per item, and nothing is written for them.
func TestSyncBatchDeadline(t *testing.T) {
	ts, store := syncServer(t, time.Nanosecond)
	status, body := post(t, ts, adminToken, "/v1/users", `{"name":"M","role":"coordinator","district":"Kenema"}`)
	if status != http.StatusCreated {
		t.Fatalf("creating a coordinator: %d %s", status, body)
	}
	var u struct{ Token string }
	_ = json.Unmarshal(body, &u)
	head, _ := store.Head(context.Background())

	batch := `{"items":[` +
		`{"key":"a","method":"POST","path":"/v1/communities","body":{"id":"KEN-D1","name":"A","district":"Kenema","chiefdom":"Nongowa","section":"S","population":10}},` +
		`{"key":"b","method":"GET","path":"/v1/communities/KEN-D1"},` +
		`{"key":"c","method":"POST","path":"/v1/communities","body":{"id":"KEN-D2","name":"B","district":"Kenema","chiefdom":"Nongowa","section":"S","population":10}}]}`
	status, body = post(t, ts, u.Token, "/v1/sync", batch)
	if status != http.StatusOK {
		t.Fatalf("batch: %d %s", status, body)
	}
	var res api.SyncResponse
	if err := json.Unmarshal(body, &res); err != nil || len(res.Results) != 3 {
		t.Fatalf("answer %s: %v", body, err)
	}
	for i, want := range []struct {
		status int
		code   string
	}{{503, "sync_item_not_run"}, {400, "invalid_input"}, {503, "sync_item_not_run"}} {
		var p api.Problem
		_ = json.Unmarshal(res.Results[i].Body, &p)
		if res.Results[i].Status != want.status || p.Code != want.code {
			t.Errorf("item %d: %d %s, want %d %s", i, res.Results[i].Status, res.Results[i].Body, want.status, want.code)
		}
	}
	if after, _ := store.Head(context.Background()); after != head {
		t.Errorf("items past the deadline wrote %d events", after-head)
	}
}
