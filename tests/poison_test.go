package tests_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/google/uuid"
)

// TestPoisonQueue: an event the read models cannot apply goes to the poison
// queue of each of them, the others flow on, the queue and the metrics show
// it, and a rebuild changes no number.
func TestPoisonQueue(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	e.actionPoint("AP-1", "KEN-1")
	models := []string{"activity", "completion", "referrals", "feedback", "trust", "lists"}

	metrics := scrape(t, e)
	for _, m := range models {
		if v, ok := metrics[`actionledger_projection_poisoned_total{projection="`+m+`"}`]; !ok || v != "0" {
			t.Errorf("before: poisoned_total for %s = %q (present %v), want 0", m, v, ok)
		}
	}
	if v := metrics["actionledger_projection_poison_queue_size"]; v != "0" {
		t.Errorf("before: poison_queue_size %q, want 0", v)
	}

	// An event of a type the domain does not know, written straight into
	// the store (as a newer version of the service, or a bad import, would).
	bogusID := uuid.New()
	res, err := e.main.Store().Append(context.Background(), "actionpoint-BOGUS", eventstore.Any, eventstore.EventData{
		ID: bogusID, Type: "Bogus.v1", Data: []byte("\x00\xffnot an event"),
		Meta: eventstore.Metadata{OccurredAt: time.Now().UTC(), ActorID: "test", ActorRole: "admin"},
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	bogusPos := res.FirstPosition

	// A normal write after it becomes visible: the models moved past the
	// bogus event.
	w := e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
		"id": "AP-2", "community_id": "KEN-1", "title": "Soap", "category": "hygiene", "kind": "continuous"}})
	pos := uint64(w.num("position"))
	if pos <= bogusPos {
		t.Fatalf("write at %d, not after the bogus event at %d", pos, bogusPos)
	}
	var before completionJSON
	e.getStats("coord", "/v1/stats/completion", url.Values{"min_position": {itoa(pos)}}, &before)
	if before.Total != 2 || before.Position < pos {
		t.Fatalf("completion total %d at position %d, want 2 at %d or later", before.Total, before.Position, pos)
	}
	snapshot := func(t *testing.T) map[string]string {
		out := map[string]string{}
		for _, route := range statsRoutes {
			for _, q := range []string{"", "interval=week", "district=Kenema", "community_id=KEN-1"} {
				if q == "interval=week" && (strings.HasSuffix(route, "trust") || strings.HasSuffix(route, "referrals")) {
					continue
				}
				var m map[string]any
				e.on(t).getStats("auditor", route, mustQuery(q), &m)
				delete(m, "position")
				out[route+"?"+q] = mustJSON(t, m)
			}
		}
		return out
	}
	numbers := snapshot(t)

	t.Run("queue lists it for every model", func(t *testing.T) {
		res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/admin/poison", token: "admin"})
		var list struct {
			Items []struct {
				Projection string `json:"projection"`
				Position   uint64 `json:"position"`
				EventID    string `json:"event_id"`
				EventType  string `json:"event_type"`
				Stream     string `json:"stream"`
				Reason     string `json:"reason"`
			} `json:"items"`
			Count int `json:"count"`
		}
		if err := json.Unmarshal(res.raw, &list); err != nil {
			t.Fatalf("%v: %s", err, res.raw)
		}
		got := map[string]bool{}
		for _, it := range list.Items {
			if it.Position != bogusPos || it.EventType != "Bogus.v1" || it.Stream != "actionpoint-BOGUS" || it.EventID != bogusID.String() || it.Reason == "" {
				t.Errorf("poisoned item %+v, want Bogus.v1 at %d on actionpoint-BOGUS, id %s, with a reason", it, bogusPos, bogusID)
			}
			if got[it.Projection] {
				t.Errorf("%s listed twice", it.Projection)
			}
			got[it.Projection] = true
		}
		for _, m := range models {
			if !got[m] {
				t.Errorf("%s not in the poison queue: %s", m, res.raw)
			}
		}
		if list.Count != len(models) || len(list.Items) != len(models) {
			t.Errorf("count %d, %d items, want %d: %s", list.Count, len(list.Items), len(models), res.raw)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		metrics := scrape(t, e)
		for _, m := range models {
			if v := metrics[`actionledger_projection_poisoned_total{projection="`+m+`"}`]; v != "1" {
				t.Errorf("poisoned_total for %s = %q, want 1", m, v)
			}
			if v := metrics[`actionledger_projection_lag_events{projection="`+m+`"}`]; v != "0" {
				t.Errorf("lag_events for %s = %q, want 0", m, v)
			}
			// The bogus event failed each try of the handler, then was
			// acked by the poison queue like the writes after it.
			if v, _ := strconv.Atoi(metrics[`actionledger_watermill_handler_execution_time_seconds_count{handler_name="`+m+`",success="false"}`]); v < 1 {
				t.Errorf("failed handler runs for %s = %d, want at least 1", m, v)
			}
			if v, _ := strconv.Atoi(metrics[`actionledger_watermill_subscriber_messages_received_total{acked="acked",handler_name="`+m+`",subscriber_name="pubsub.Subscriber"}`]); v < 2 {
				t.Errorf("acked messages for %s = %d, want at least 2 (the bogus event and the write after it)", m, v)
			}
		}
		if v := metrics["actionledger_projection_poison_queue_size"]; v != itoa(uint64(len(models))) {
			t.Errorf("poison_queue_size %q, want %d", v, len(models))
		}
	})

	t.Run("admin only", func(t *testing.T) {
		for _, tok := range []string{"coord", "coord-national", "auditor", "mob"} {
			e.on(t).problem(req{method: "GET", path: "/v1/admin/poison", token: tok}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "POST", path: "/v1/admin/projections/rebuild", token: tok}, http.StatusForbidden, "forbidden", "")
		}
		e.on(t).problem(req{method: "GET", path: "/v1/admin/poison"}, http.StatusUnauthorized, "unauthenticated", "")
	})

	t.Run("rebuild", func(t *testing.T) {
		res := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/admin/projections/rebuild", token: "admin"})
		if res.num("skipped") != 1 || uint64(res.num("position")) < pos || uint64(res.num("events")) < pos {
			t.Errorf("rebuild report %s: want 1 skipped and position, events at least %d", res.raw, pos)
		}
		// The bogus event still cannot be applied: the rebuilt queue lists
		// it again, once per model.
		q := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/admin/poison", token: "admin"})
		if q.num("count") != float64(len(models)) {
			t.Errorf("poison queue after the rebuild: %s, want the bogus event for each of the %d models", q.raw, len(models))
		}
		if v := scrape(t, e)["actionledger_projection_poison_queue_size"]; v != itoa(uint64(len(models))) {
			t.Errorf("poison_queue_size after the rebuild %q, want %d", v, len(models))
		}
		after := snapshot(t)
		for k, v := range numbers {
			if after[k] != v {
				t.Errorf("%s changed by the rebuild:\nbefore %s\nafter  %s", k, v, after[k])
			}
		}
		// The rebuilt models keep counting, once.
		w := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
			"id": "AP-3", "community_id": "KEN-1", "title": "Buckets", "category": "hygiene", "kind": "continuous"}})
		var c completionJSON
		e.on(t).getStats("coord", "/v1/stats/completion", url.Values{"min_position": {itoa(uint64(w.num("position")))}}, &c)
		if c.Total != 3 || c.Open != 3 {
			t.Errorf("after the rebuild and one more raise: total %d open %d, want 3 and 3", c.Total, c.Open)
		}
		var r referralsJSON
		e.on(t).getStats("coord", "/v1/stats/referrals", nil, &r)
		if r.Total != 0 {
			t.Errorf("referrals total %d, want 0", r.Total)
		}
	})
}

// scrape reads /metrics into "name{labels}" -> value.
func scrape(t *testing.T, e *env) map[string]string {
	t.Helper()
	res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/metrics"})
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(res.raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

func mustQuery(q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	return v
}
