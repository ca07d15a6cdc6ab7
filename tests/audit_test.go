package tests_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// The auditor's after-action review, end to end: history with full
// envelopes, the global log's filters, as-of indicators and aggregates
// against a recount, tamper evidence after one flipped byte in the store
// file, exports recorded before they stream, and the CLI in both modes.

func TestAuditStreamHistory(t *testing.T) {
	e := start(t)
	s := newAuditScenario(t, e)

	t.Run("only_auditors", func(t *testing.T) {
		for _, who := range []string{"coord", "mob", "coord-national", "admin"} {
			e.on(t).problem(req{method: "GET", path: "/v1/streams/actionpoint-AP1/events", token: who}, http.StatusForbidden, "forbidden", "")
		}
	})

	t.Run("full_envelopes", func(t *testing.T) {
		evs := auditEvents(t, e.on(t), "auditor", "/v1/streams/actionpoint-AP1/events", nil, 100)
		want := s.positionsWhere(func(w auditWrite) bool { return w.stream == "actionpoint-AP1" })
		if got := positionsOf(evs); !slices.Equal(got, want) {
			t.Fatalf("positions %v, want %v", got, want)
		}
		types := []string{"ActionPointRaised.v1", "ActionPointStarted.v1", "ActionPointAchieved.v1"}
		occurred := []time.Time{s.day(1), s.day(3), s.day(10)}
		for i, ev := range evs {
			if ev.Type != types[i] || ev.Revision != uint64(i+1) || ev.Stream != "actionpoint-AP1" {
				t.Errorf("event %d: %s revision %d of %s", i, ev.Type, ev.Revision, ev.Stream)
			}
			if !ev.OccurredAt.Equal(occurred[i]) || ev.RecordedAt.Before(s.base.AddDate(0, 0, 60)) {
				t.Errorf("event %d: occurred %s recorded %s; want occurred %s and recorded now", i, ev.OccurredAt, ev.RecordedAt, occurred[i])
			}
			if ev.ActorID != s.ids["mob"] || ev.ActorRole != "mobilizer" || ev.CausationID == "" || ev.CorrelationID == "" {
				t.Errorf("event %d: actor %q/%q causation %q correlation %q", i, ev.ActorID, ev.ActorRole, ev.CausationID, ev.CorrelationID)
			}
			for _, h := range []string{ev.Hash, ev.PrevHash} {
				if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
					t.Errorf("event %d: hash %q is not 32 bytes of hex", i, h)
				}
			}
			if !uuidLike.MatchString(ev.EventID) {
				t.Errorf("event %d: event id %q", i, ev.EventID)
			}
		}
		if evs[1].IdempotencyKey != "k-ap1-start" || evs[1].CorrelationID != "corr-ap1" {
			t.Errorf("start: idempotency key %q correlation %q, want those sent", evs[1].IdempotencyKey, evs[1].CorrelationID)
		}
		var raised domain.ActionPointRaised
		if err := json.Unmarshal(evs[0].Data, &raised); err != nil || raised.Title != auditCanary || raised.CommunityID != "KEN-A" || raised.District != "Kenema" {
			t.Errorf("raised data %s (%v)", evs[0].Data, err)
		}
		if !strings.Contains(string(evs[1].Data), "Buckets bought") {
			t.Errorf("started data %s", evs[1].Data)
		}
	})

	t.Run("pages", func(t *testing.T) {
		one := auditEvents(t, e.on(t), "auditor", "/v1/streams/referral-R1/events", nil, 1)
		all := auditEvents(t, e.on(t), "auditor", "/v1/streams/referral-R1/events", nil, 1000)
		if len(one) != 3 || !slices.Equal(positionsOf(one), positionsOf(all)) {
			t.Errorf("one by one %v, all at once %v", positionsOf(one), positionsOf(all))
		}
	})

	t.Run("users_without_personal_data", func(t *testing.T) {
		res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/streams/users/events", token: "auditor"})
		for _, name := range []string{"Aminata", "Distinctname"} {
			if bytes.Contains(res.raw, []byte(name)) {
				t.Errorf("the user stream shows the name %q", name)
			}
		}
		var p auditPage
		if err := json.Unmarshal(res.raw, &p); err != nil || len(p.Events) != 6 {
			t.Fatalf("users: %d events (%v)", len(p.Events), err)
		}
		for _, ev := range p.Events {
			var data map[string]any
			_ = json.Unmarshal(ev.Data, &data)
			if _, ok := data["name"]; ok || data["id"] == nil || data["role"] == nil || !slices.Contains(ev.Redacted, "name") {
				t.Errorf("user event data %s redacted %v", ev.Data, ev.Redacted)
			}
			for k := range data {
				if strings.Contains(k, "token") || strings.Contains(k, "hash") {
					t.Errorf("user event data has %q", k)
				}
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		e := e.on(t)
		for _, tc := range []struct {
			name, path, token string
			status            int
			code, field       string
		}{
			{"district_auditor_other_district", "/v1/streams/actionpoint-AP3/events", "auditor-kenema", 403, "forbidden", ""},
			{"district_auditor_users", "/v1/streams/users/events", "auditor-kenema", 403, "forbidden", ""},
			{"bad_cursor", "/v1/streams/actionpoint-AP1/events?cursor=abc", "auditor", 400, "invalid_input", "cursor"},
			{"limit_zero", "/v1/streams/actionpoint-AP1/events?limit=0", "auditor", 400, "invalid_input", "limit"},
			{"unknown_parameter", "/v1/streams/actionpoint-AP1/events?district=Kenema", "auditor", 400, "invalid_input", "district"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.on(t).problem(req{method: "GET", path: tc.path, token: tc.token}, tc.status, tc.code, tc.field)
			})
		}
		e.must(http.StatusOK, req{method: "GET", path: "/v1/streams/actionpoint-AP1/events", token: "auditor-kenema"})
	})

	// A stream without events reads as empty, as the store reads it.
	t.Run("empty_streams", func(t *testing.T) {
		for _, stream := range []string{"actionpoint-NOPE", "bogus-1", "KEN-A"} {
			if evs := auditEvents(t, e.on(t), "auditor-kenema", "/v1/streams/"+stream+"/events", nil, 10); len(evs) != 0 {
				t.Errorf("%s: %d events", stream, len(evs))
			}
		}
	})
}

func TestAuditGlobalLog(t *testing.T) {
	e := start(t)
	s := newAuditScenario(t, e)

	t.Run("chained_and_complete", func(t *testing.T) {
		evs := auditEvents(t, e.on(t), "auditor", "/v1/audit/events", nil, 7)
		prev := strings.Repeat("0", 64)
		for i, ev := range evs {
			if ev.Position != uint64(i+1) || ev.PrevHash != prev {
				t.Fatalf("event %d: position %d, prev_hash %s; want %d and %s", i, ev.Position, ev.PrevHash, i+1, prev)
			}
			prev = ev.Hash
		}
		if last := s.writes[len(s.writes)-1].position; uint64(len(evs)) != last {
			t.Errorf("%d events, want %d", len(evs), last)
		}
	})

	inKenema := func(w auditWrite) bool { return strings.EqualFold(w.district, "Kenema") }
	cases := []struct {
		name  string
		token string
		q     url.Values
		want  func(w auditWrite) bool
	}{
		{"district_any_case", "auditor", url.Values{"district": {" kenema "}}, inKenema},
		{"chiefdom", "auditor", url.Values{"district": {"Kenema"}, "chiefdom": {"small bo"}}, func(w auditWrite) bool { return w.chiefdom == "Small Bo" }},
		{"community", "auditor", url.Values{"community_id": {"KAI-A"}}, func(w auditWrite) bool { return w.community == "KAI-A" }},
		{"type", "auditor", url.Values{"type": {"ActionPointAchieved.v1"}}, func(w auditWrite) bool { return w.kind == "ap" && w.step == "achieved" }},
		{"two_types", "auditor", url.Values{"type": {"ReferralRaised.v1,ReferralCancelled.v1"}}, func(w auditWrite) bool {
			return w.kind == "ref" && (w.step == "raised" || w.step == "cancel")
		}},
		{"actor", "auditor", url.Values{"actor": {s.ids["mob-kailahun"]}}, func(w auditWrite) bool { return w.token == "mob-kailahun" }},
		{"occurred_window", "auditor", url.Values{"from": {rfc(s.day(5))}, "to": {rfc(s.day(8))}}, func(w auditWrite) bool {
			return w.kind != "user" && !w.occurred.Before(s.day(5)) && w.occurred.Before(s.day(8))
		}},
		{"recorded_phase_2", "auditor", url.Values{"basis": {"recorded"}, "from": {s.phaseEnd[0].Format(time.RFC3339Nano)}, "to": {s.phaseEnd[1].Format(time.RFC3339Nano)}},
			func(w auditWrite) bool { return w.phase == 2 }},
		{"district_and_type", "auditor", url.Values{"district": {"Kailahun"}, "type": {"ActionPointStarted.v1"}}, func(w auditWrite) bool {
			return w.district == "Kailahun" && w.kind == "ap" && w.step == "started"
		}},
		{"district_auditor_is_scoped", "auditor-kenema", nil, inKenema},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := s.positionsWhere(tc.want)
			if len(want) == 0 {
				t.Fatal("the case selects nothing; it would prove nothing")
			}
			paged := auditEvents(t, e.on(t), tc.token, "/v1/audit/events", tc.q, 2)
			whole := auditEvents(t, e.on(t), tc.token, "/v1/audit/events", tc.q, 1000)
			if got := positionsOf(whole); !slices.Equal(got, want) {
				t.Errorf("positions %v\nwant      %v", got, want)
			}
			if !slices.Equal(positionsOf(paged), positionsOf(whole)) {
				t.Errorf("paged by 2 %v, whole %v", positionsOf(paged), positionsOf(whole))
			}
		})
	}

	t.Run("bad_input", func(t *testing.T) {
		for _, tc := range []struct {
			name, query, token string
			status             int
			code, field        string
		}{
			{"basis", "basis=field", "auditor", 400, "invalid_input", "basis"},
			{"type", "type=Nope.v1", "auditor", 400, "invalid_input", "type"},
			{"from", "from=yesterday", "auditor", 400, "invalid_input", "from"},
			{"to_before_from", "from=2015-02-01&to=2015-01-01", "auditor", 400, "invalid_input", "to"},
			{"cursor", "cursor=%21%21", "auditor", 400, "invalid_input", "cursor"},
			{"limit", "limit=1001", "auditor", 400, "invalid_input", "limit"},
			{"unknown_parameter", "zzz=1", "auditor", 400, "invalid_input", "zzz"},
			{"chiefdom_without_district", "chiefdom=Luawa", "auditor", 400, "invalid_input", "district"},
			{"unknown_community", "community_id=NOPE", "auditor", 404, "not_found", "community_id"},
			{"outside_area", "district=Kailahun", "auditor-kenema", 403, "forbidden", ""},
			{"coordinator", "", "coord-national", 403, "forbidden", ""},
			{"mobilizer_with_bad_input", "basis=field", "mob", 403, "forbidden", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.on(t).problem(req{method: "GET", path: "/v1/audit/events?" + tc.query, token: tc.token}, tc.status, tc.code, tc.field)
			})
		}
	})
}

// asOfJSON is the part of an as-of answer the recount checks.
type asOfJSON struct {
	At         time.Time `json:"at"`
	Basis      string    `json:"basis"`
	Position   uint64    `json:"position"`
	Completion struct {
		Total      int `json:"total"`
		Open       int `json:"open"`
		InProgress int `json:"in_progress"`
		Achieved   int `json:"achieved"`
		Dropped    int `json:"dropped"`
	} `json:"completion"`
	Referrals struct {
		Total          int      `json:"total"`
		SafeBurialRate *float64 `json:"safe_burial_rate"`
	} `json:"referrals"`
	Feedback struct {
		Received   int `json:"received"`
		LoopClosed int `json:"loop_closed"`
	} `json:"feedback"`
	Trust struct {
		Series []json.RawMessage `json:"series"`
	} `json:"trust"`
}

func (a asOfJSON) check(t *testing.T, want auditRecount) {
	t.Helper()
	c := a.Completion
	if got := (auditRecount{apTotal: c.Total, apOpen: c.Open, apInProgress: c.InProgress, apAchieved: c.Achieved, apDropped: c.Dropped,
		refTotal: a.Referrals.Total, fbReceived: a.Feedback.Received, fbLoopClosed: a.Feedback.LoopClosed}); got != (auditRecount{
		apTotal: want.apTotal, apOpen: want.apOpen, apInProgress: want.apInProgress, apAchieved: want.apAchieved, apDropped: want.apDropped,
		refTotal: want.refTotal, fbReceived: want.fbReceived, fbLoopClosed: want.fbLoopClosed}) {
		t.Errorf("as-of counts %+v\nrecount       %+v", got, want)
	}
	switch {
	case want.deathsWithOutcome == 0 && a.Referrals.SafeBurialRate != nil:
		t.Errorf("safe_burial_rate %v, want null", *a.Referrals.SafeBurialRate)
	case want.deathsWithOutcome > 0 && (a.Referrals.SafeBurialRate == nil || *a.Referrals.SafeBurialRate != float64(want.safeBurials)/float64(want.deathsWithOutcome)):
		t.Errorf("safe_burial_rate %v, want %d/%d", a.Referrals.SafeBurialRate, want.safeBurials, want.deathsWithOutcome)
	}
}

func TestAuditAsOfMatchesARecount(t *testing.T) {
	e := start(t)
	s := newAuditScenario(t, e)
	type point struct {
		name  string
		basis string
		at    time.Time
	}
	points := []point{
		{"occurred_day_0", "occurred", s.day(0.5)},
		{"occurred_day_2", "occurred", s.day(2.5)},
		{"occurred_day_4", "occurred", s.day(4.5)},
		{"occurred_day_6", "occurred", s.day(6.5)},
		{"occurred_day_11", "occurred", s.day(11)},
		{"occurred_day_30", "occurred", s.day(30)},
		{"recorded_phase_1", "recorded", s.phaseEnd[0]},
		{"recorded_phase_2", "recorded", s.phaseEnd[1]},
		{"recorded_phase_3", "recorded", s.phaseEnd[2]},
		{"recorded_before_everything", "recorded", s.base},
	}
	distinct := map[auditRecount]bool{}
	for _, p := range points {
		for _, district := range []string{"", "Kenema"} {
			t.Run(p.name+"/"+cmpOr(district, "national"), func(t *testing.T) {
				q := url.Values{"at": {p.at.Format(time.RFC3339Nano)}, "basis": {p.basis}}
				if district != "" {
					q.Set("district", district)
				}
				res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/audit/as-of?" + q.Encode(), token: "auditor"})
				var got asOfJSON
				if err := json.Unmarshal(res.raw, &got); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"at", "basis", "position", "completion", "trust", "referrals", "feedback"} {
					if _, ok := res.body[k]; !ok {
						t.Errorf("no %q in %s", k, res.raw)
					}
				}
				if got.Basis != p.basis || !got.At.Equal(p.at) {
					t.Errorf("at %s basis %s; asked %s %s", got.At, got.Basis, p.at, p.basis)
				}
				want := s.recount(p.basis, p.at, district)
				distinct[want] = true
				got.check(t, want)
			})
		}
	}
	if len(distinct) < 8 {
		t.Errorf("only %d distinct recounts over the points: the history does not tell the bases apart", len(distinct))
	}

	// A late sync: AP2 started on day 5 in the field, but the server heard
	// of it only in phase 2.
	t.Run("action_point", func(t *testing.T) {
		for _, tc := range []struct {
			name, id, basis string
			at              time.Time
			status          string
			etag            string
		}{
			{"raised", "AP1", "occurred", s.day(2), "open", `"1"`},
			{"started", "AP1", "occurred", s.day(4), "in_progress", `"2"`},
			{"achieved", "AP1", "occurred", s.day(11), "achieved", `"3"`},
			{"known_after_phase_1", "AP1", "recorded", s.phaseEnd[0], "in_progress", `"2"`},
			{"known_after_phase_2", "AP1", "recorded", s.phaseEnd[1], "achieved", `"3"`},
			{"late_sync_happened", "AP2", "occurred", s.day(6), "in_progress", `"2"`},
			{"late_sync_not_yet_known", "AP2", "recorded", s.phaseEnd[0], "open", `"1"`},
			{"dropped", "AP2", "occurred", s.day(13), "dropped", `"3"`},
			{"default_basis_is_recorded", "AP2", "", s.phaseEnd[0], "open", `"1"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := url.Values{"stream": {"actionpoint-" + tc.id}, "at": {tc.at.Format(time.RFC3339Nano)}}
				if tc.basis != "" {
					q.Set("basis", tc.basis)
				}
				res := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/audit/as-of/aggregate?" + q.Encode(), token: "auditor"})
				if res.str("status") != tc.status || res.header.Get("ETag") != tc.etag || res.str("id") != tc.id || res.str("title") == "" {
					t.Errorf("status %q ETag %s: %s; want %s %s", res.str("status"), res.header.Get("ETag"), res.raw, tc.status, tc.etag)
				}
				if res.str("as_of") == "" || res.str("basis") != cmpOr(tc.basis, "recorded") || res.num("position") == 0 || res.str("stream") != "actionpoint-"+tc.id {
					t.Errorf("as_of/basis/position missing: %s", res.raw)
				}
			})
		}
	})

	t.Run("other_aggregates", func(t *testing.T) {
		e := e.on(t)
		q := "&basis=occurred&at=" + url.QueryEscape(rfc(s.day(6.5)))
		for stream, want := range map[string]string{
			"community-KEN-A": "triggered",
			"referral-R2":     "acknowledged",
			"feedback-F1":     "answered",
		} {
			path := "/v1/audit/as-of/aggregate?stream=" + stream + q
			if got := e.must(http.StatusOK, req{method: "GET", path: path, token: "auditor"}).str("status"); got != want {
				t.Errorf("%s: status %q, want %q", path, got, want)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		at := url.QueryEscape(rfc(s.day(30)))
		for _, tc := range []struct {
			name, path, token string
			status            int
			code, field       string
		}{
			{"at_missing", "/v1/audit/as-of", "auditor", 400, "invalid_input", "at"},
			{"at_malformed", "/v1/audit/as-of?at=soon", "auditor", 400, "invalid_input", "at"},
			{"basis", "/v1/audit/as-of?at=" + at + "&basis=both", "auditor", 400, "invalid_input", "basis"},
			{"aggregate_basis", "/v1/audit/as-of/aggregate?stream=actionpoint-AP1&at=" + at + "&basis=both", "auditor", 400, "invalid_input", "basis"},
			{"aggregate_at", "/v1/audit/as-of/aggregate?stream=actionpoint-AP1", "auditor", 400, "invalid_input", "at"},
			{"aggregate_stream_missing", "/v1/audit/as-of/aggregate?at=" + at, "auditor", 400, "invalid_input", "stream"},
			{"aggregate_stream_not_an_aggregate", "/v1/audit/as-of/aggregate?stream=users&at=" + at, "auditor", 400, "invalid_input", "stream"},
			{"unknown", "/v1/audit/as-of/aggregate?stream=actionpoint-NOPE&at=" + at, "auditor", 404, "not_found", ""},
			{"not_yet_raised", "/v1/audit/as-of/aggregate?stream=actionpoint-AP1&basis=occurred&at=" + url.QueryEscape(rfc(s.day(0.5))), "auditor", 404, "not_found", ""},
			{"outside_area", "/v1/audit/as-of/aggregate?stream=actionpoint-AP3&at=" + at, "auditor-kenema", 403, "forbidden", ""},
			{"indicators_outside_area", "/v1/audit/as-of?district=Kailahun&at=" + at, "auditor-kenema", 403, "forbidden", ""},
			{"coordinator", "/v1/audit/as-of?at=" + at, "coord-national", 403, "forbidden", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.on(t).problem(req{method: "GET", path: tc.path, token: tc.token}, tc.status, tc.code, tc.field)
			})
		}
	})
}

var uuidLike = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type verifyJSON struct {
	Intact       bool   `json:"intact"`
	Count        uint64 `json:"count"`
	HeadPosition uint64 `json:"head_position"`
	HeadHash     string `json:"head_hash"`
	BrokenAt     uint64 `json:"broken_at"`
	Reason       string `json:"reason"`
}

func verifyOver(t *testing.T, e *env) verifyJSON {
	t.Helper()
	res := e.must(http.StatusOK, req{method: "GET", path: "/v1/audit/verify", token: "auditor"})
	var v verifyJSON
	if err := json.Unmarshal(res.raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAuditVerifyFindsOneFlippedByte changes one byte of a stored event in
// the store file itself — not through any API — and expects the CLI and,
// after a restart, the HTTP route to name the event's position.
func TestAuditVerifyFindsOneFlippedByte(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary")
	}
	dir := t.TempDir()
	e := startIn(t, dir)
	s := newAuditScenario(t, e)
	target := s.positionsWhere(func(w auditWrite) bool { return w.stream == "actionpoint-AP1" && w.step == "raised" })[0]
	last := s.writes[len(s.writes)-1].position

	v := verifyOver(t, e)
	evs := auditEvents(t, e, "auditor", "/v1/audit/events", url.Values{"type": {"ActionPointReopened.v1,ReferralCancelled.v1"}}, 100)
	if !v.Intact || v.Count != last || v.HeadPosition != last || v.BrokenAt != 0 || len(evs) == 0 || evs[len(evs)-1].Position != last || v.HeadHash != evs[len(evs)-1].Hash {
		t.Fatalf("intact store: %+v (last event %d)", v, last)
	}
	auditorEnv := []string{"ACTIONLEDGER_TOKEN=" + e.tokens["auditor"]}
	out, errOut, code := runCLI(t, auditorEnv, "audit", "verify", "--server", e.base)
	if code != 0 || !strings.Contains(out, `"intact": true`) {
		t.Fatalf("CLI verify --server on an intact store: exit %d\n%s%s", code, out, errOut)
	}
	tokens := e.tokens
	e.stop()
	out, errOut, code = runCLI(t, nil, "audit", "verify", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, `"intact": true`) {
		t.Fatalf("CLI verify --data-dir on an intact store: exit %d\n%s%s", code, out, errOut)
	}

	flipStoredByte(t, filepath.Join(dir, "events.db"), []byte(auditCanary))

	out, errOut, code = runCLI(t, nil, "audit", "verify", "--data-dir", dir)
	var cli verifyJSON
	if err := json.Unmarshal([]byte(out), &cli); err != nil || code != 1 || cli.Intact || cli.BrokenAt != target || cli.Count != target-1 {
		t.Fatalf("CLI verify after the flip: exit %d, %+v (%v), want broken at %d\n%s", code, cli, err, target, errOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("broken at position %d", target)) {
		t.Errorf("stderr does not name the position: %s", errOut)
	}

	e2 := startIn(t, dir)
	e2.tokens = tokens
	if v := verifyOver(t, e2); v.Intact || v.BrokenAt != target || v.Count != target-1 || v.Reason == "" {
		t.Errorf("HTTP verify after restart: %+v, want broken at %d", v, target)
	}
}

// flipStoredByte changes one byte inside marker in the store file. bbolt
// copies pages on write, so stale copies of the marker may sit in freed
// pages: each copy is tried until the store reads a changed event.
func flipStoredByte(t *testing.T, path string, marker []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := func() bool {
		st, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		evs, err := st.ReadStream(t.Context(), "actionpoint-AP1", 0, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("reading the damaged store: %v", err)
		}
		return !bytes.Contains(evs[0].Data, marker)
	}
	for off := 0; ; {
		i := bytes.Index(raw[off:], marker)
		if i < 0 {
			t.Fatal("no stored copy of the marker could be changed")
		}
		at := off + i + 3 // inside the marker: "QZX" -> "QZY"
		raw[at] ^= 0x01
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if changed() {
			return
		}
		raw[at] ^= 0x01 // a stale copy: put it back
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		off = at + 1
	}
}

func TestAuditExport(t *testing.T) {
	e := start(t)
	s := newAuditScenario(t, e)
	exportsSoFar := func(t *testing.T) []auditEvent {
		t.Helper()
		return auditEvents(t, e.on(t), "auditor", "/v1/streams/exports/events", nil, 1000)
	}
	get := func(t *testing.T, token, query string) *http.Response {
		t.Helper()
		hr, _ := http.NewRequest(http.MethodGet, e.base+"/v1/audit/export?"+query, nil)
		hr.Header.Set("Authorization", "Bearer "+e.tokens[token])
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("ndjson_is_recorded_before_it_streams", func(t *testing.T) {
		resp := get(t, "auditor", "format=ndjson")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jsonl" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var lines []auditEvent
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev auditEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("line %d: %v", len(lines)+1, err)
			}
			lines = append(lines, ev)
		}
		pos := resp.Header.Get("X-Export-Position")
		if len(lines) == 0 || fmt.Sprint(lines[len(lines)-1].Position) != pos || fmt.Sprint(len(lines)) != pos {
			t.Fatalf("%d lines, X-Export-Position %s", len(lines), pos)
		}
		// The export's own record is its last line: it was written first.
		rec := lines[len(lines)-1]
		if rec.Type != "ExportRecorded.v1" || rec.Stream != domain.ExportsStream || rec.ActorID != s.ids["auditor"] || rec.ActorRole != "auditor" ||
			rec.EventID != resp.Header.Get("X-Export-ID") || !strings.Contains(string(rec.Data), `"format":"ndjson"`) {
			t.Errorf("the export's record: %+v %s", rec, rec.Data)
		}
	})

	t.Run("csv_of_a_place_and_period", func(t *testing.T) {
		resp := get(t, "auditor", "format=csv&district=Kenema&from="+url.QueryEscape(rfc(s.day(0)))+"&to="+url.QueryEscape(rfc(s.day(8))))
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || len(rows) < 2 || rows[0][0] != "position" || rows[0][14] != "data" {
			t.Fatalf("csv: %v %v", err, rows)
		}
		want := s.positionsWhere(func(w auditWrite) bool {
			return w.kind != "user" && w.district == "Kenema" && !w.occurred.Before(s.day(0)) && w.occurred.Before(s.day(8))
		})
		var got []uint64
		for _, r := range rows[1:] {
			var p uint64
			fmt.Sscan(r[0], &p)
			got = append(got, p)
		}
		if !slices.Equal(got, want) {
			t.Errorf("rows at %v\nwant    %v", got, want)
		}
		recs := exportsSoFar(t)
		last := recs[len(recs)-1]
		if !strings.Contains(string(last.Data), `"district":"Kenema"`) || !strings.Contains(string(last.Data), `"format":"csv"`) || !strings.Contains(string(last.Data), `"from":"`) {
			t.Errorf("the csv export's record: %s", last.Data)
		}
	})

	t.Run("html_review_without_free_text", func(t *testing.T) {
		resp := get(t, "auditor", "format=html")
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(resp.Body)
		page := body.String()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{"<svg", "Community triggered", "Action point achieved", "Action point dropped", "Referral completed",
			"outcome safe burial", "Feedback loop closed", "AP1", "KEN-A", resp.Header.Get("X-Export-ID")} {
			if !strings.Contains(page, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		for _, secret := range []string{"QZX-CANARY", "nurses sell blood", "Samples are only", "DHMT", "P-7781", "No materials",
			"Raised twice", "Buckets bought", "Seen in use", "Aminata", "Village KEN", "<script", "src=", "href=", "http://", "https://", "url("} {
			if strings.Contains(page, secret) {
				t.Errorf("the report shows %q", secret)
			}
		}
	})

	t.Run("refused_exports_are_not_recorded", func(t *testing.T) {
		before := len(exportsSoFar(t))
		for _, tc := range []struct {
			name, token, query string
			status             int
			field              string
		}{
			{"coordinator", "coord-national", "format=csv", 403, ""},
			{"format", "auditor", "format=xml", 400, "format"},
			{"from", "auditor", "from=last-week", 400, "from"},
			{"basis_is_not_a_parameter", "auditor", "basis=recorded", 400, "basis"},
			{"outside_area", "auditor-kenema", "district=Kailahun", 403, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.on(t).problem(req{method: "GET", path: "/v1/audit/export?" + tc.query, token: tc.token}, tc.status, map[int]string{400: "invalid_input", 403: "forbidden"}[tc.status], tc.field)
			})
		}
		if after := len(exportsSoFar(t)); after != before {
			t.Errorf("%d exports recorded by refused requests", after-before)
		}
	})

	t.Run("district_auditor_exports_their_district", func(t *testing.T) {
		resp := get(t, "auditor-kenema", "format=ndjson")
		sc := bufio.NewScanner(resp.Body)
		n := 0
		for sc.Scan() {
			n++
			if bytes.Contains(sc.Bytes(), []byte("KAI-A")) {
				t.Fatalf("a Kenema export shows Kailahun: %s", sc.Bytes())
			}
		}
		recs := exportsSoFar(t)
		if n == 0 || !strings.Contains(string(recs[len(recs)-1].Data), `"district":"Kenema"`) {
			t.Errorf("%d lines; record %s", n, recs[len(recs)-1].Data)
		}
	})
}

func TestAuditCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary")
	}
	dir := t.TempDir()
	e := startIn(t, dir)
	s := newAuditScenario(t, e)
	auditor := []string{"ACTIONLEDGER_TOKEN=" + e.tokens["auditor"]}
	lines := func(out string) []auditEvent {
		var evs []auditEvent
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var ev auditEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			evs = append(evs, ev)
		}
		return evs
	}
	wantAP1 := s.positionsWhere(func(w auditWrite) bool { return w.stream == "actionpoint-AP1" })

	t.Run("server", func(t *testing.T) {
		out, errOut, code := runCLI(t, auditor, "audit", "history", "--server", e.base, "--stream", "actionpoint-AP1")
		if code != 0 || !slices.Equal(positionsOf(lines(out)), wantAP1) {
			t.Errorf("history: exit %d %s %s", code, out, errOut)
		}
		out, errOut, code = runCLI(t, auditor, "audit", "as-of", "--server", e.base, "--action-point", "AP2", "--basis", "occurred", "--at", rfc(s.day(6)))
		if code != 0 || !strings.Contains(out, `"status": "in_progress"`) {
			t.Errorf("as-of: exit %d %s %s", code, out, errOut)
		}
		file := filepath.Join(t.TempDir(), "review.html")
		_, errOut, code = runCLI(t, auditor, "audit", "export", "--server", e.base, "--format", "html", "--district", "Kenema", "--out", file)
		if b, _ := os.ReadFile(file); code != 0 || !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("export: exit %d %s", code, errOut)
		}
		_, errOut, code = runCLI(t, nil, "audit", "verify", "--server", e.base)
		if code == 0 || !strings.Contains(errOut, "ACTIONLEDGER_TOKEN") {
			t.Errorf("without a token: exit %d %s", code, errOut)
		}
		_, errOut, code = runCLI(t, []string{"ACTIONLEDGER_TOKEN=" + e.tokens["coord"]}, "audit", "verify", "--server", e.base)
		if code == 0 || !strings.Contains(errOut, "403") {
			t.Errorf("as a coordinator: exit %d %s", code, errOut)
		}
	})

	e.stop()
	t.Run("data_dir", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, "audit", "history", "--data-dir", dir, "--type", "ActionPointAchieved.v1")
		if evs := lines(out); code != 0 || len(evs) != 1 || evs[0].Position != wantAP1[2] {
			t.Errorf("history: exit %d %s %s", code, out, errOut)
		}
		out, errOut, code = runCLI(t, nil, "audit", "as-of", "--data-dir", dir, "--basis", "occurred", "--at", rfc(s.day(6.5)), "--district", "Kenema")
		var got asOfJSON
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
			t.Fatalf("as-of: exit %d %v %s %s", code, err, out, errOut)
		}
		got.check(t, s.recount("occurred", s.day(6.5), "Kenema"))

		_, errOut, code = runCLI(t, nil, "audit", "export", "--data-dir", dir)
		if code == 0 || !strings.Contains(errOut, "ACTIONLEDGER_TOKEN") {
			t.Errorf("an offline export without a token: exit %d %s", code, errOut)
		}
		out, errOut, code = runCLI(t, auditor, "audit", "export", "--data-dir", dir, "--format", "ndjson")
		evs := lines(out)
		if rec := evs[len(evs)-1]; code != 0 || rec.Type != "ExportRecorded.v1" || rec.ActorID != s.ids["auditor"] {
			t.Errorf("offline export: exit %d, last line %+v %s", code, rec, errOut)
		}
		_, errOut, code = runCLI(t, nil, "audit", "history", "--data-dir", t.TempDir())
		if code == 0 || !strings.Contains(errOut, "no event store") {
			t.Errorf("an empty data dir: exit %d %s", code, errOut)
		}
	})
}
