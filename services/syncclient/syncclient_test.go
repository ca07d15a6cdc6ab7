package syncclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"compress/gzip"

	"github.com/actionledger/actionledger/services/syncclient"
)

// fakeServer answers /v1/sync with one result per item: status 409 for
// paths ending in /bad, 201 otherwise, replayed for keys seen before; and
// first answers each batch with the given failures.
type fakeServer struct {
	failFirst []int // statuses of the first answers (0: drop the connection)
	calls     atomic.Int64
	seen      map[string]bool
	users     atomic.Int64
	tokens    []string
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.tokens = append(f.tokens, r.Header.Get("Authorization"))
	if r.URL.Path == "/v1/users" {
		f.users.Add(1)
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"id":"u","token":"tok-`+r.Header.Get("Idempotency-Key")+`"}`)
		return
	}
	n := int(f.calls.Add(1)) - 1
	if n < len(f.failFirst) {
		if f.failFirst[n] == 0 {
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			_ = c.Close()
			return
		}
		w.WriteHeader(f.failFirst[n])
		_, _ = io.WriteString(w, `{"code":"unavailable","detail":"busy"}`)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		body = zr
	}
	var req struct {
		Items []struct{ Key, Path string }
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"code":"invalid_input","field":"body","detail":"bad"}`)
		return
	}
	type result struct {
		Key      string          `json:"key"`
		Status   int             `json:"status"`
		Body     json.RawMessage `json:"body"`
		Replayed bool            `json:"replayed,omitempty"`
	}
	var out struct {
		Results []result `json:"results"`
	}
	for _, it := range req.Items {
		res := result{Key: it.Key, Status: 201, Body: json.RawMessage(`{"id":"x"}`)}
		switch {
		case strings.HasSuffix(it.Path, "/bad"):
			res.Status, res.Body = 409, json.RawMessage(`{"code":"transition_not_allowed","detail":"no"}`)
		case f.seen[it.Key]:
			res.Replayed = true
		}
		f.seen[it.Key] = true
		out.Results = append(out.Results, res)
	}
	_ = json.NewEncoder(w).Encode(out)
}

const phone = `{"key":"a","method":"POST","path":"/v1/x"}
{"key":"b","method":"POST","path":"/v1/y/bad"}
{"key":"c","method":"POST","path":"/v1/z"}
`

func client(t *testing.T, url string, batch int) *syncclient.Client {
	t.Helper()
	c, err := syncclient.New(syncclient.Config{BaseURL: url, Token: "secret-token", BatchSize: batch, Attempts: 4,
		RetryWait: time.Millisecond, MaxRetryWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSyncFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failFirst []int
		batch     int
		err       error
		written   int
		already   int
		confirmed int
		retries   int
	}{
		{"clean", nil, 2, nil, 2, 0, 0, 0},
		{"503 then fine", []int{503, 502}, 500, nil, 2, 0, 0, 2},
		{"dropped connection", []int{0}, 500, nil, 2, 0, 0, 1},
		{"refused batch", []int{401}, 500, syncclient.ErrBatchRefused, 0, 0, 0, 0},
		{"never answered", []int{503, 503, 503, 503}, 500, errors.New("no answer after 4 attempts"), 0, 0, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeServer{failFirst: tc.failFirst, seen: map[string]bool{}}
			ts := httptest.NewServer(f)
			defer ts.Close()
			sum, err := client(t, ts.URL, tc.batch).SyncFile(context.Background(), strings.NewReader(phone))
			switch {
			case tc.err == nil && err != nil:
				t.Fatal(err)
			case tc.err != nil && (err == nil || !errors.Is(err, tc.err) && !strings.Contains(err.Error(), tc.err.Error())):
				t.Fatalf("err = %v, want %v", err, tc.err)
			case tc.err != nil:
				return
			}
			if sum.Written != tc.written || sum.AlreadyThere != tc.already || sum.Refused != 1 || sum.RefusedBy["transition_not_allowed"] != 1 || sum.Retries != tc.retries {
				t.Errorf("summary %+v", sum)
			}
			if r := sum.Results[1]; r.Outcome != syncclient.Refused || r.Code != "transition_not_allowed" || r.Line != 2 {
				t.Errorf("refused item: %+v", r)
			}
			for _, h := range f.tokens {
				if h != "Bearer secret-token" {
					t.Errorf("sent Authorization %q", h)
				}
			}
		})
	}
}

// TestResendMarksConfirmed: a batch whose answer was lost after the server
// handled it comes back as "already there", flagged as confirmed on retry.
func TestResendMarksConfirmed(t *testing.T) {
	f := &fakeServer{seen: map[string]bool{}}
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			f.ServeHTTP(httptest.NewRecorder(), r) // handled, answer lost
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			_ = c.Close()
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer ts.Close()
	sum, err := client(t, ts.URL, 500).SyncFile(context.Background(), strings.NewReader(phone))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 0 || sum.AlreadyThere != 2 || sum.ConfirmedOnRetry != 2 || sum.Retries != 1 {
		t.Errorf("summary %+v", sum)
	}
}

// TestUsersFromFile: a file that declares users is sent as each user, after
// creating them with the admin's token.
func TestUsersFromFile(t *testing.T) {
	f := &fakeServer{seen: map[string]bool{}}
	ts := httptest.NewServer(f)
	defer ts.Close()
	file := `{"user":{"ref":"m1","name":"M","role":"mobilizer","district":"Kenema"}}
{"user":{"ref":"m2","name":"N","role":"mobilizer","district":"Kenema"}}
{"as":"m1","key":"a","method":"POST","path":"/v1/x"}
{"as":"m2","key":"a","method":"POST","path":"/v1/x"}
{"as":"m1","key":"b","method":"POST","path":"/v1/x"}
`
	sum, err := client(t, ts.URL, 500).SyncFile(context.Background(), strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if f.users.Load() != 2 || sum.Users != 2 || sum.Batches != 3 {
		t.Errorf("users %d, summary %+v", f.users.Load(), sum)
	}
	want := []string{"Bearer secret-token", "Bearer secret-token", "Bearer tok-user/m1", "Bearer tok-user/m2", "Bearer tok-user/m1"}
	if strings.Join(f.tokens, ",") != strings.Join(want, ",") {
		t.Errorf("tokens sent %v, want %v", f.tokens, want)
	}
}

// A backlog with a refused item did not all get through: Summary.Err says
// so (the CLI exits 1 on it), naming how many and why; a clean one is nil.
func TestSummaryErrOnRefusedItems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		refused bool
		text    string
	}{
		{"one refused", phone, true, "1 of 3 items were refused (transition_not_allowed 1)"},
		{"none refused", `{"key":"a","method":"POST","path":"/v1/x"}` + "\n", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(&fakeServer{seen: map[string]bool{}})
			defer ts.Close()
			sum, err := client(t, ts.URL, 500).SyncFile(context.Background(), strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := sum.Err()
			if !tc.refused {
				if got != nil {
					t.Fatalf("Err() = %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, syncclient.ErrItemsRefused) || !strings.Contains(got.Error(), tc.text) {
				t.Fatalf("Err() = %v, want ErrItemsRefused saying %q", got, tc.text)
			}
		})
	}
}
