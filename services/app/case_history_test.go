package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// TestCaseHistory: every role reads a case's history within its area, as it
// reads the case; outside it, or for a case that does not exist, nothing.
func TestCaseHistory(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	seed(t, a)
	ctx := context.Background()
	tests := []struct {
		name     string
		actor    app.Actor
		kind, id string
		code     domain.Code // "" : allowed
		entries  int
	}{
		{name: "a coordinator of the district", actor: coordinator, kind: app.CaseActionPoint, id: "AP1", entries: 2},
		{name: "a mobilizer of the district", actor: mobilizer, kind: app.CaseCommunity, id: "C1", entries: 2},
		{name: "a chiefdom coordinator there", actor: app.Actor{ID: "u-c2", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
			kind: app.CaseActionPoint, id: "AP1", entries: 2},
		{name: "a coordinator of another chiefdom", actor: app.Actor{ID: "u-c3", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema", Chiefdom: "Lower Bambara"}},
			kind: app.CaseActionPoint, id: "AP1", code: domain.CodeForbidden},
		{name: "a coordinator of another district", actor: app.Actor{ID: "u-c4", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kailahun"}},
			kind: app.CaseCommunity, id: "C1", code: domain.CodeForbidden},
		{name: "a case that does not exist", actor: coordinator, kind: app.CaseReferral, id: "R404", code: domain.CodeNotFound},
		{name: "an unknown kind", actor: coordinator, kind: "stream", id: "C1", code: domain.CodeNotFound},
		{name: "a bad id", actor: coordinator, kind: app.CaseCommunity, id: "../users", code: domain.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := a.Queries.History(ctx, tc.actor, tc.kind, tc.id)
			if got := domain.ErrorCode(err); got != tc.code {
				t.Fatalf("History: %v, want code %q", err, tc.code)
			}
			if tc.code != "" {
				return
			}
			if len(h.Entries) != tc.entries {
				t.Fatalf("%d entries, want %d", len(h.Entries), tc.entries)
			}
			for i, e := range h.Entries {
				if e.Revision != uint64(i+1) || e.Event == nil || e.ActorID == "" || e.RecordedAt.IsZero() || e.OccurredAt.IsZero() {
					t.Errorf("entry %d: %+v", i, e)
				}
			}
		})
	}
	// Field time is kept apart from server time: a late sync shows as such.
	f.now = f.now.Add(72 * time.Hour)
	must(t)(a.NoteProgress.Handle(ctx, app.NoteProgress{Meta: app.Meta{Actor: mobilizer, OccurredAt: f.now.Add(-48 * time.Hour)}, ID: "AP1", Note: "half done"}))
	h, err := a.Queries.History(ctx, coordinator, app.CaseActionPoint, "AP1")
	if err != nil {
		t.Fatal(err)
	}
	last := h.Entries[len(h.Entries)-1]
	if !last.OccurredAt.Equal(f.now.Add(-48*time.Hour)) || last.ActorRole != domain.RoleMobilizer {
		t.Errorf("the note: occurred %v recorded %v by %s", last.OccurredAt, last.RecordedAt, last.ActorRole)
	}
	if v, ok := h.State.(domain.ActionPointView); !ok || v.LastNote != "half done" || v.Revision != 3 {
		t.Errorf("state %+v", h.State)
	}
}
