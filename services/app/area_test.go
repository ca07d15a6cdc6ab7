package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// Area rules of the application layer on their own, without the API in
// front: a mobilizer or coordinator acting on, or reading, a record outside
// their area is refused (forbidden), and the refusal writes nothing. Each
// command is also run by an actor of the same role inside the area, so that
// a refusal cannot come from some other rule.

// outsiders are actors of role whose area does not contain Kenema/Nongowa:
// another district, and another chiefdom of the same district.
func outsiders(role string) map[string]app.Actor {
	return map[string]app.Actor{
		"other_district": {ID: "u-" + role + "-kailahun", Role: role, Area: domain.Area{District: "Kailahun"}},
		"other_chiefdom": {ID: "u-" + role + "-dodo", Role: role, Area: domain.Area{District: "Kenema", Chiefdom: "Dodo"}},
	}
}

// insider is an actor of role whose area contains Kenema/Nongowa.
func insider(role string) app.Actor {
	if role == domain.RoleCoordinator {
		return coordinator
	}
	return mobilizer
}

// areaWorld prepares records in Kenema/Nongowa in the state a command needs.
type areaWorld struct {
	t   *testing.T
	a   *app.Application
	now time.Time
}

func (w *areaWorld) meta(actor app.Actor) app.Meta { return app.Meta{Actor: actor} }

func (w *areaWorld) do(res app.Result, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("preparing: %v", err)
	}
}

func (w *areaWorld) community(id string, triggered bool) {
	w.t.Helper()
	ctx := context.Background()
	w.do(w.a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: w.meta(coordinator), ID: id, Name: "Village " + id,
		Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, Population: 100}))
	if triggered {
		w.do(w.a.TriggerCommunity.Handle(ctx, app.TriggerCommunity{Meta: w.meta(mobilizer), CommunityID: id, Attendance: ptr(10)}))
	}
}

// actionPoint raises an action point in C1 and takes it to status.
func (w *areaWorld) actionPoint(id, status string) {
	w.t.Helper()
	ctx := context.Background()
	m := w.meta(mobilizer)
	w.do(w.a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: m, ID: id, CommunityID: "C1", Title: "Buckets", Category: "hygiene", Kind: "one_off", DueDate: "2015-03-01"}))
	if status == "open" {
		return
	}
	w.do(w.a.StartActionPoint.Handle(ctx, app.StartActionPoint{Meta: m, ID: id}))
	if status == "achieved" {
		w.do(w.a.AchieveActionPoint.Handle(ctx, app.AchieveActionPoint{Meta: m, ID: id, Evidence: "seen"}))
	}
}

func (w *areaWorld) referral(id, status string) {
	w.t.Helper()
	ctx := context.Background()
	w.do(w.a.RaiseReferral.Handle(ctx, app.RaiseReferral{Meta: w.meta(mobilizer), ID: id, CommunityID: "C1", Kind: "suspected_case",
		Channel: "mobilizer", PersonRef: "P-" + id, SymptomOnset: w.now.Add(-time.Hour)}))
	if status == "raised" {
		return
	}
	w.do(w.a.AcknowledgeReferral.Handle(ctx, app.AcknowledgeReferral{Meta: w.meta(coordinator), ID: id}))
	if status == "completed" {
		w.do(w.a.CompleteReferral.Handle(ctx, app.CompleteReferral{Meta: w.meta(coordinator), ID: id, ArrivedAt: w.now, Outcome: "admitted"}))
	}
}

func (w *areaWorld) feedback(id, status string) {
	w.t.Helper()
	ctx := context.Background()
	w.do(w.a.ReceiveFeedback.Handle(ctx, app.ReceiveFeedback{Meta: w.meta(mobilizer), ID: id, CommunityID: "C1", Type: "question",
		Text: "When?", Channel: "mobilizer"}))
	if status == "received" {
		return
	}
	w.do(w.a.ReferFeedback.Handle(ctx, app.ReferFeedback{Meta: w.meta(coordinator), ID: id, To: "DHMT"}))
	if status == "answered" {
		w.do(w.a.AnswerFeedback.Handle(ctx, app.AnswerFeedback{Meta: w.meta(coordinator), ID: id, Response: "Soon"}))
	}
}

func TestAreaChecksOnEveryCommand(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	w := &areaWorld{t: t, a: a, now: f.now}
	w.community("C1", true)
	ctx := context.Background()
	yes := true

	type run func(m app.Meta, id string) (app.Result, error)
	for _, tc := range []struct {
		name string
		role string
		prep func(id string) // creates the record id in the state the command needs
		run  run
	}{
		{"register_community", domain.RoleCoordinator, func(string) {}, func(m app.Meta, id string) (app.Result, error) {
			return a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: m, ID: id, Name: "New", Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, Population: 5})
		}},
		{"trigger_community", domain.RoleMobilizer, func(id string) { w.community(id, false) }, func(m app.Meta, id string) (app.Result, error) {
			return a.TriggerCommunity.Handle(ctx, app.TriggerCommunity{Meta: m, CommunityID: id, Attendance: ptr(30)})
		}},
		{"record_visit", domain.RoleMobilizer, func(id string) { w.community(id, true) }, func(m app.Meta, id string) (app.Result, error) {
			return a.RecordVisit.Handle(ctx, app.RecordVisit{Meta: m, CommunityID: id, Kind: "follow_up", TrustRating: ptr(4)})
		}},
		{"raise_action_point", domain.RoleMobilizer, func(string) {}, func(m app.Meta, id string) (app.Result, error) {
			return a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: m, ID: id, CommunityID: "C1", Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "2015-03-01"})
		}},
		{"start_action_point", domain.RoleMobilizer, func(id string) { w.actionPoint(id, "open") }, func(m app.Meta, id string) (app.Result, error) {
			return a.StartActionPoint.Handle(ctx, app.StartActionPoint{Meta: m, ID: id})
		}},
		{"note_progress", domain.RoleMobilizer, func(id string) { w.actionPoint(id, "in_progress") }, func(m app.Meta, id string) (app.Result, error) {
			return a.NoteProgress.Handle(ctx, app.NoteProgress{Meta: m, ID: id, Note: "n"})
		}},
		{"achieve_action_point", domain.RoleMobilizer, func(id string) { w.actionPoint(id, "in_progress") }, func(m app.Meta, id string) (app.Result, error) {
			return a.AchieveActionPoint.Handle(ctx, app.AchieveActionPoint{Meta: m, ID: id, Evidence: "e"})
		}},
		{"drop_action_point_mobilizer", domain.RoleMobilizer, func(id string) { w.actionPoint(id, "in_progress") }, func(m app.Meta, id string) (app.Result, error) {
			return a.DropActionPoint.Handle(ctx, app.DropActionPoint{Meta: m, ID: id, Reason: "r"})
		}},
		{"drop_action_point_coordinator", domain.RoleCoordinator, func(id string) { w.actionPoint(id, "open") }, func(m app.Meta, id string) (app.Result, error) {
			return a.DropActionPoint.Handle(ctx, app.DropActionPoint{Meta: m, ID: id, Reason: "r"})
		}},
		{"reopen_action_point_mobilizer", domain.RoleMobilizer, func(id string) { w.actionPoint(id, "achieved") }, func(m app.Meta, id string) (app.Result, error) {
			return a.ReopenActionPoint.Handle(ctx, app.ReopenActionPoint{Meta: m, ID: id, Reason: "r"})
		}},
		{"reopen_action_point_coordinator", domain.RoleCoordinator, func(id string) { w.actionPoint(id, "achieved") }, func(m app.Meta, id string) (app.Result, error) {
			return a.ReopenActionPoint.Handle(ctx, app.ReopenActionPoint{Meta: m, ID: id, Reason: "r"})
		}},
		{"raise_referral", domain.RoleMobilizer, func(string) {}, func(m app.Meta, id string) (app.Result, error) {
			return a.RaiseReferral.Handle(ctx, app.RaiseReferral{Meta: m, ID: id, CommunityID: "C1", Kind: "death_alert", Channel: "mobilizer", PersonRef: "P1"})
		}},
		{"acknowledge_referral", domain.RoleCoordinator, func(id string) { w.referral(id, "raised") }, func(m app.Meta, id string) (app.Result, error) {
			return a.AcknowledgeReferral.Handle(ctx, app.AcknowledgeReferral{Meta: m, ID: id})
		}},
		{"complete_referral_coordinator", domain.RoleCoordinator, func(id string) { w.referral(id, "acknowledged") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CompleteReferral.Handle(ctx, app.CompleteReferral{Meta: m, ID: id, ArrivedAt: f.now, Outcome: "admitted"})
		}},
		{"complete_referral_mobilizer", domain.RoleMobilizer, func(id string) { w.referral(id, "acknowledged") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CompleteReferral.Handle(ctx, app.CompleteReferral{Meta: m, ID: id, ArrivedAt: f.now, Outcome: "admitted"})
		}},
		{"close_referral", domain.RoleCoordinator, func(id string) { w.referral(id, "completed") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CloseReferral.Handle(ctx, app.CloseReferral{Meta: m, ID: id})
		}},
		{"cancel_referral", domain.RoleCoordinator, func(id string) { w.referral(id, "raised") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CancelReferral.Handle(ctx, app.CancelReferral{Meta: m, ID: id, Reason: "duplicate"})
		}},
		{"receive_feedback", domain.RoleMobilizer, func(string) {}, func(m app.Meta, id string) (app.Result, error) {
			return a.ReceiveFeedback.Handle(ctx, app.ReceiveFeedback{Meta: m, ID: id, CommunityID: "C1", Type: "rumour", Text: "x", Channel: "mobilizer"})
		}},
		{"refer_feedback", domain.RoleCoordinator, func(id string) { w.feedback(id, "received") }, func(m app.Meta, id string) (app.Result, error) {
			return a.ReferFeedback.Handle(ctx, app.ReferFeedback{Meta: m, ID: id, To: "DHMT"})
		}},
		{"answer_feedback", domain.RoleCoordinator, func(id string) { w.feedback(id, "referred") }, func(m app.Meta, id string) (app.Result, error) {
			return a.AnswerFeedback.Handle(ctx, app.AnswerFeedback{Meta: m, ID: id, Response: "r"})
		}},
		{"close_feedback_loop_mobilizer", domain.RoleMobilizer, func(id string) { w.feedback(id, "answered") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CloseFeedbackLoop.Handle(ctx, app.CloseFeedbackLoop{Meta: m, ID: id, CommunicatedAt: f.now, Satisfied: &yes})
		}},
		{"close_feedback_loop_coordinator", domain.RoleCoordinator, func(id string) { w.feedback(id, "answered") }, func(m app.Meta, id string) (app.Result, error) {
			return a.CloseFeedbackLoop.Handle(ctx, app.CloseFeedbackLoop{Meta: m, ID: id, CommunicatedAt: f.now, Satisfied: &yes})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			id := "X-" + tc.name
			tc.prep(id)
			for where, actor := range outsiders(tc.role) {
				before, err := f.store.Head(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_, err = tc.run(w.meta(actor), id)
				if domain.ErrorCode(err) != domain.CodeForbidden {
					t.Errorf("a %s of %s: %v, want forbidden", tc.role, where, err)
				}
				if after, _ := f.store.Head(ctx); after != before {
					t.Errorf("a %s of %s was refused but the log grew from %d to %d", tc.role, where, before, after)
				}
			}
			if _, err := tc.run(w.meta(insider(tc.role)), id); err != nil {
				t.Errorf("the same command by a %s of the area: %v", tc.role, err)
			}
		})
	}
}

func TestAreaChecksOnEveryQuery(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	w := &areaWorld{t: t, a: a, now: f.now}
	w.community("C1", true)
	w.actionPoint("AP1", "open")
	w.referral("R1", "raised")
	w.feedback("F1", "received")
	ctx := context.Background()
	at := f.now.Add(time.Hour)
	kenemaPlace := domain.Place{District: "Kenema", Chiefdom: "Nongowa"}

	queries := []struct {
		name string
		run  func(actor app.Actor) error
	}{
		{"community", func(actor app.Actor) error { _, err := a.Queries.Community(ctx, actor, "C1"); return err }},
		{"action_point", func(actor app.Actor) error { _, err := a.Queries.ActionPoint(ctx, actor, "AP1"); return err }},
		{"referral", func(actor app.Actor) error { _, err := a.Queries.Referral(ctx, actor, "R1"); return err }},
		{"feedback", func(actor app.Actor) error { _, err := a.Queries.Feedback(ctx, actor, "F1"); return err }},
		{"stats_of_the_district", func(actor app.Actor) error {
			_, err := app.ReadScope(actor, domain.Area{District: "Kenema", Chiefdom: "Nongowa"}, nil, domain.RoleCoordinator, domain.RoleMobilizer, domain.RoleAuditor)
			return err
		}},
		{"stats_of_the_community", func(actor app.Actor) error {
			_, err := app.ReadScope(actor, domain.Area{}, &kenemaPlace, domain.RoleCoordinator, domain.RoleMobilizer, domain.RoleAuditor)
			return err
		}},
	}
	for _, role := range []string{domain.RoleMobilizer, domain.RoleCoordinator} {
		for _, q := range queries {
			t.Run(role+"/"+q.name, func(t *testing.T) {
				for where, actor := range outsiders(role) {
					if err := q.run(actor); domain.ErrorCode(err) != domain.CodeForbidden {
						t.Errorf("a %s of %s: %v, want forbidden", role, where, err)
					}
				}
				if err := q.run(insider(role)); err != nil {
					t.Errorf("a %s of the area: %v", role, err)
				}
			})
		}
	}

	// An auditor of another area reads neither the aggregate as it stood
	// nor its history.
	for _, stream := range []string{"community-C1", "actionpoint-AP1", "referral-R1", "feedback-F1"} {
		t.Run("auditor/"+stream, func(t *testing.T) {
			for where, actor := range outsiders(domain.RoleAuditor) {
				if _, _, err := a.Audit.AggregateAsOf(ctx, actor, stream, at, app.BasisOccurred); domain.ErrorCode(err) != domain.CodeForbidden {
					t.Errorf("as-of by an auditor of %s: %v, want forbidden", where, err)
				}
				if _, _, err := a.Audit.StreamEvents(ctx, actor, stream, 0, 10); domain.ErrorCode(err) != domain.CodeForbidden {
					t.Errorf("history by an auditor of %s: %v, want forbidden", where, err)
				}
			}
			if _, _, err := a.Audit.AggregateAsOf(ctx, kenemaAuditor, stream, at, app.BasisOccurred); err != nil {
				t.Errorf("as-of by an auditor of Kenema: %v", err)
			}
			if evs, _, err := a.Audit.StreamEvents(ctx, kenemaAuditor, stream, 0, 10); err != nil || len(evs) == 0 {
				t.Errorf("history by an auditor of Kenema: %d events, %v", len(evs), err)
			}
		})
	}
}
