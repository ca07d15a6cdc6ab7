package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/generate"
	"github.com/actionledger/actionledger/services/importer"
	"github.com/prometheus/client_golang/prometheus"
)

type fixture struct {
	app   *app.Application
	api   *api.Server
	store *boltstore.Store
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a, err := app.New(app.Config{Store: s, TokenSecret: []byte("secret"), AdminTokenHash: app.HashToken("admin"), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{App: a, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{app: a, api: srv, store: s}
}

func tinyFile(t *testing.T) ([]byte, generate.Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := generate.Generate(&buf, generate.Scales["tiny"], 7)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// TestImportTwice: a generated history imports without a refusal, writes
// one event per item and user, and importing it again writes nothing.
func TestImportTwice(t *testing.T) {
	f := newFixture(t)
	file, sum := tinyFile(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		written, replayed int
		events            uint64
	}{
		{"first", sum.Items, 0, uint64(sum.Events)},
		{"again", 0, sum.Items, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var phases []string
			rep, err := importer.Run(ctx, importer.Config{Exec: f.api, Store: f.store, Workers: 4,
				Progress: func(p importer.Progress) { phases = append(phases, p.Phase) }}, bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Refused != 0 {
				t.Fatalf("refused %d: %+v", rep.Refused, rep.Refusals)
			}
			if rep.Items != sum.Items || rep.Users != sum.Users || rep.Written != tc.written || rep.Replayed != tc.replayed || rep.Events != tc.events {
				t.Errorf("report %+v; want %d items, %d users, %d written, %d replayed, %d events", rep, sum.Items, sum.Users, tc.written, tc.replayed, tc.events)
			}
			if len(phases) == 0 || phases[len(phases)-1] != "done" {
				t.Errorf("progress phases %v, want the last to be done", phases)
			}
		})
	}
}

// TestImportedItemsAreTheRoutesRequests sends every imported item to the
// HTTP API through POST /v1/sync as its user, with its token: each must be
// answered as a replay of what the import wrote in process. That holds the
// in-process path (the actor given, not a token) to the network one.
func TestImportedItemsAreTheRoutesRequests(t *testing.T) {
	f := newFixture(t)
	file, _ := tinyFile(t)
	ctx := context.Background()
	if _, err := importer.Run(ctx, importer.Config{Exec: f.api, Store: f.store}, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(f.api)
	defer ts.Close()

	r := backlog.NewReader(bytes.NewReader(file))
	byUser := map[string][]backlog.Item{}
	var order []string
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if byUser[it.As] == nil {
			order = append(order, it.As)
		}
		byUser[it.As] = append(byUser[it.As], it)
	}
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	sent := 0
	for _, ref := range order {
		u := r.Users[ref]
		// Creating the user again under its key answers its token.
		res, err := f.app.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: admin, IdempotencyKey: u.Key(),
			RequestHash: app.RequestHash("POST", "/v1/users", u.Body())}, Name: u.Name, Role: u.Role, District: u.District, Chiefdom: u.Chiefdom})
		if err != nil || !res.Replayed {
			t.Fatalf("user %s: replayed=%v err=%v", ref, res.Replayed, err)
		}
		items := byUser[ref]
		for len(items) > 0 {
			n := min(len(items), api.MaxSyncItems)
			batch := items[:n]
			items = items[n:]
			var body struct {
				Items []backlog.Item `json:"items"`
			}
			for _, it := range batch {
				it.As = ""
				body.Items = append(body.Items, it)
			}
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", ts.URL+"/v1/sync", bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+res.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out api.SyncResponse
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("sync as %s: %d %v", ref, resp.StatusCode, err)
			}
			for i, res := range out.Results {
				if res.Status/100 != 2 || !res.Replayed {
					t.Errorf("%s %s (key %s, as %s): %d replayed=%v %s", batch[i].Method, batch[i].Path, batch[i].Key, ref, res.Status, res.Replayed, res.Body)
				}
				sent++
			}
		}
	}
	if sent == 0 {
		t.Fatal("sent nothing")
	}
}

// TestImportRefusals: items the handlers refuse are counted with their
// code and line, and the rest still go in.
func TestImportRefusals(t *testing.T) {
	f := newFixture(t)
	file := []byte(`{"user":{"ref":"c","name":"Coord","role":"coordinator","district":"Kenema"}}
{"user":{"ref":"m","name":"Mob","role":"mobilizer","district":"Kenema"}}
{"as":"c","key":"1","method":"POST","path":"/v1/communities","body":{"id":"C1","name":"Kpayama","district":"Kenema","chiefdom":"Nongowa"}}
{"as":"m","key":"2","method":"POST","path":"/v1/communities/C1/visits","body":{"kind":"initial","trust_rating":3}}
{"as":"m","key":"3","method":"POST","path":"/v1/communities/C1/triggering","body":{"attendance":10}}
{"as":"m","key":"4","method":"POST","path":"/v1/communities/C1/visits","body":{"kind":"initial","trust_rating":3,"zzz":1}}
{"as":"m","key":"5","method":"POST","path":"/v1/communities/C1/visits","body":{"kind":"initial","trust_rating":3}}
{"as":"m","key":"6","method":"POST","path":"/v1/nowhere","body":{}}
{"as":"m","key":"7","method":"POST","path":"/v1/communities","body":{"id":"C2","name":"X","district":"Kailahun","chiefdom":"Luawa"}}
`)
	rep, err := importer.Run(context.Background(), importer.Config{Exec: f.api, Store: f.store}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"transition_not_allowed": 1, "invalid_input": 1, "route_not_found": 1, "forbidden": 1}
	if rep.Written != 3 || rep.Refused != 4 || len(rep.RefusedBy) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for code, n := range want {
		if rep.RefusedBy[code] != n {
			t.Errorf("refused by %s: %d, want %d", code, rep.RefusedBy[code], n)
		}
	}
	lines := map[int]string{}
	for _, r := range rep.Refusals {
		lines[r.Line] = r.Code
	}
	if lines[4] != "transition_not_allowed" || lines[6] != "invalid_input" || lines[8] != "route_not_found" || lines[9] != "forbidden" {
		t.Errorf("refusals by line: %v", lines)
	}
}

func TestImportBadFile(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, file string }{
		{"not JSON", "{\n"},
		{"undeclared user", `{"as":"x","key":"1","method":"POST","path":"/v1/communities","body":{}}` + "\n"},
		{"user after items", `{"user":{"ref":"c","role":"coordinator"}}` + "\n" + `{"as":"c","key":"1","method":"POST","path":"/v1/x"}` + "\n" + `{"user":{"ref":"d","role":"coordinator"}}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := importer.Run(context.Background(), importer.Config{Exec: f.api, Store: f.store}, bytes.NewReader([]byte(tc.file))); err == nil {
				t.Error("imported a bad file")
			}
		})
	}
}

// TestImportWindows: however small the windows the file is read in, every
// item meets the items it depends on already written (its community, the
// earlier steps of its record, even in an earlier window), so the history
// imports whole and without a refusal.
func TestImportWindows(t *testing.T) {
	file, sum := tinyFile(t)
	for _, tc := range []struct {
		name   string
		window int
	}{
		{"one item at a time", 1},
		{"seven", 7},
		{"a hundred", 100},
		{"the default", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rep, err := importer.Run(context.Background(), importer.Config{Exec: f.api, Store: f.store, Workers: 8, Window: tc.window}, bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Refused != 0 || rep.Items != sum.Items || rep.Written != sum.Items || rep.Events != uint64(sum.Events) {
				t.Errorf("report %+v; want %d items all written, %d events, none refused", rep, sum.Items, sum.Events)
			}
		})
	}
}

// TestImportStreams: the file is read as the import goes, never held
// whole: when its last byte is read, most of its items are already in the
// store.
func TestImportStreams(t *testing.T) {
	f := newFixture(t)
	file, sum := tinyFile(t)
	const window = 10
	var headAtEOF uint64
	// One byte a read: nothing is read ahead beyond what the import asks.
	src := iotest.OneByteReader(bytes.NewReader(file))
	eofSeen := false
	r := readerFunc(func(p []byte) (int, error) {
		n, err := src.Read(p)
		if err == io.EOF && !eofSeen {
			eofSeen = true
			headAtEOF, _ = f.store.Head(context.Background())
		}
		return n, err
	})
	rep, err := importer.Run(context.Background(), importer.Config{Exec: f.api, Store: f.store, Workers: 4, Window: window}, r)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != uint64(sum.Events) {
		t.Fatalf("appended %d events, want %d", rep.Events, sum.Events)
	}
	// The reader runs at most two windows ahead (one waiting, one being
	// read); the users and every earlier window are written by then.
	if want := uint64(sum.Events - 3*window); headAtEOF < want {
		t.Errorf("the store held %d events when the end of the file was read, want at least %d of %d", headAtEOF, want, sum.Events)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestImportStopsAtABadLine: a line that does not parse stops the import
// before its window runs, naming the line; what came before it is written,
// and importing the mended file writes only the rest.
func TestImportStopsAtABadLine(t *testing.T) {
	f := newFixture(t)
	file, sum := tinyFile(t)
	lines := strings.SplitAfter(string(file), "\n")
	bad := len(lines) - 3 // an item near the end
	broken := strings.Join(lines[:bad], "") + "{not json\n" + strings.Join(lines[bad:], "")
	ctx := context.Background()
	rep, err := importer.Run(ctx, importer.Config{Exec: f.api, Store: f.store, Window: 20}, strings.NewReader(broken))
	if err == nil || !strings.Contains(err.Error(), "line "+strconv.Itoa(bad+1)+":") {
		t.Fatalf("error %v, want one naming line %d", err, bad+1)
	}
	first, _ := f.store.Head(ctx)
	if first == 0 || first >= uint64(sum.Events) || rep.Written == 0 {
		t.Fatalf("%d events written (report %+v) before the bad line; want some, not all %d", first, rep, sum.Events)
	}
	rep, err = importer.Run(ctx, importer.Config{Exec: f.api, Store: f.store, Window: 20}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refused != 0 || rep.Replayed == 0 || rep.Written+rep.Replayed != sum.Items || first+rep.Events != uint64(sum.Events) {
		t.Errorf("mended run: report %+v after %d events; want the rest of %d items, %d events in all", rep, first, sum.Items, sum.Events)
	}
}

// BenchmarkImport imports a generated history of 400 communities (about
// 28,000 items) into a fresh store per run, through the routes, and
// reports events/s. The clea-scale figure is scripts/bench.sh's.
func BenchmarkImport(b *testing.B) {
	sc := generate.Scale{Name: "bench", Districts: 4, Communities: 400, Mobilizers: 90, ActionPoints: 2104, Weeks: 40, Referrals: 3300, Feedback: 3300}
	var buf bytes.Buffer
	sum, err := generate.Generate(&buf, sc, 1)
	if err != nil {
		b.Fatal(err)
	}
	file := buf.Bytes()
	var events uint64
	var took float64
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b)
		b.StartTimer()
		rep, err := importer.Run(context.Background(), importer.Config{Exec: f.api, Store: f.store}, bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		if rep.Refused != 0 || rep.Events != uint64(sum.Events) {
			b.Fatalf("report %+v, want %d events", rep, sum.Events)
		}
		events += rep.Events
		took += rep.Took.Seconds()
	}
	b.ReportMetric(float64(events)/took, "events/s")
}
