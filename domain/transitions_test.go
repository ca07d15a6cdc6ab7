package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/actionledger/actionledger/domain"
)

// lifecycle describes one aggregate for the transition matrix: how to reach
// each status, which actions exist, and — written out from PRODUCT.md — which
// (action, from) cells are allowed and what they lead to. Every other cell of
// statuses × actions must be refused with ErrTransition.
type lifecycle[A changes] struct {
	statuses []string // every status of the lifecycle, as PRODUCT.md names them
	paths    []path[A]
	actions  []action[A]
	allowed  map[string]map[string]string // action -> from status -> to status
	fresh    func() A
	load     func([]domain.Event) (A, error)
	status   func(A) string
	revision func(A) uint64 // View().Revision
	// steps is the domain's query of the steps a status allows, and step
	// names each action's step in it: the matrix checks that the query
	// offers exactly the actions the commands accept.
	steps func(status string) []string
	step  map[string]string
}

// path reaches a status through public commands.
type path[A any] struct {
	name   string
	status string
	steps  []func(A) error
}

type action[A any] struct {
	name  string
	do    func(A) error
	event string // the event an allowed action records
}

// check validates the spec table itself, so a typo cannot silently turn an
// allowed cell into a forbidden one, and makes sure every status is reached.
func (l lifecycle[A]) check(t *testing.T) {
	t.Helper()
	reached := map[string]bool{}
	for _, p := range l.paths {
		if !slices.Contains(l.statuses, p.status) {
			t.Fatalf("path %q reaches %q, which is not a status of the lifecycle", p.name, p.status)
		}
		reached[p.status] = true
	}
	for _, s := range l.statuses {
		if !reached[s] {
			t.Fatalf("no path reaches status %q: its row of the matrix would be missing", s)
		}
	}
	for _, a := range l.actions {
		if l.step[a.name] == "" {
			t.Fatalf("action %q has no step name", a.name)
		}
	}
	for name, edges := range l.allowed {
		if !slices.ContainsFunc(l.actions, func(a action[A]) bool { return a.name == name }) {
			t.Fatalf("allowed table names unknown action %q", name)
		}
		for from, to := range edges {
			if !slices.Contains(l.statuses, from) || !slices.Contains(l.statuses, to) {
				t.Fatalf("allowed edge %s: %s -> %s uses an unknown status", name, from, to)
			}
		}
	}
}

// build runs a path's commands on a fresh aggregate; replayed reloads the
// result from its own events, so the action then runs on a loaded aggregate.
func (l lifecycle[A]) build(t *testing.T, p path[A], replayed bool) A {
	t.Helper()
	a := l.fresh()
	for i, step := range p.steps {
		mustOK(t, step(a), fmt.Sprintf("path %q step %d", p.name, i))
	}
	if got := l.status(a); got != p.status {
		t.Fatalf("path %q reached status %q; want %q", p.name, got, p.status)
	}
	if !replayed {
		return a
	}
	history := a.Changes()
	loaded, err := l.load(history)
	mustOK(t, err, "load history")
	if got := l.status(loaded); got != p.status {
		t.Fatalf("replayed path %q has status %q; want %q", p.name, got, p.status)
	}
	if loaded.Revision() != uint64(len(history)) || len(loaded.Changes()) != 0 {
		t.Fatalf("replayed aggregate: revision %d, %d changes; want %d, 0", loaded.Revision(), len(loaded.Changes()), len(history))
	}
	return loaded
}

// run tests every cell of statuses × actions, on aggregates built by commands
// and on aggregates loaded from history. It returns the number of cells.
func (l lifecycle[A]) run(t *testing.T) int {
	t.Helper()
	l.check(t)
	cells := 0
	for _, p := range l.paths {
		for _, act := range l.actions {
			to, allowed := l.allowed[act.name][p.status]
			verdict := "refused"
			if allowed {
				verdict = "to " + to
			}
			for _, replayed := range []bool{false, true} {
				mode := "commands"
				if replayed {
					mode = "replayed"
				}
				cells++
				t.Run(fmt.Sprintf("%s/%s/%s/%s", p.name, act.name, verdict, mode), func(t *testing.T) {
					if offered := slices.Contains(l.steps(p.status), l.step[act.name]); offered != allowed {
						t.Errorf("steps(%q) = %v: offers %s = %v; the command is allowed = %v", p.status, l.steps(p.status), l.step[act.name], offered, allowed)
					}
					a := l.build(t, p, replayed)
					before, rev := len(a.Changes()), l.revision(a)
					err := act.do(a)
					after := a.Changes()
					if allowed {
						mustOK(t, err, act.name)
						if got := l.status(a); got != to {
							t.Errorf("status after %s from %s = %q; want %q", act.name, p.status, got, to)
						}
						if len(after) != before+1 {
							t.Fatalf("%s recorded %d events; want exactly 1", act.name, len(after)-before)
						}
						if got := after[before].EventType(); got != act.event {
							t.Errorf("%s recorded %s; want %s", act.name, got, act.event)
						}
						if got := l.revision(a); got != rev+1 {
							t.Errorf("View().Revision after %s = %d; want %d", act.name, got, rev+1)
						}
						return
					}
					if err == nil {
						t.Fatalf("%s from %s succeeded (status now %q); PRODUCT.md forbids it", act.name, p.status, l.status(a))
					}
					if !errors.Is(err, domain.ErrTransition) {
						t.Fatalf("%s from %s: error %v does not match ErrTransition", act.name, p.status, err)
					}
					if errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound) {
						t.Errorf("transition error %v also matches another code", err)
					}
					if got := domain.ErrorCode(err); got != domain.CodeTransition {
						t.Errorf("ErrorCode = %q; want %q", got, domain.CodeTransition)
					}
					var te *domain.TransitionError
					if !errors.As(err, &te) {
						t.Fatalf("error %v (%T) is not a *TransitionError", err, err)
					}
					if te.From != p.status {
						t.Errorf("TransitionError.From = %q; want %q", te.From, p.status)
					}
					var wantFrom []string
					for from := range l.allowed[act.name] {
						wantFrom = append(wantFrom, from)
					}
					gotFrom := slices.Clone(te.Allowed)
					sort.Strings(wantFrom)
					sort.Strings(gotFrom)
					if !slices.Equal(gotFrom, wantFrom) {
						t.Errorf("TransitionError.Allowed = %v; want %v", te.Allowed, wantFrom)
					}
					if len(after) != before {
						t.Errorf("refused %s recorded %d events", act.name, len(after)-before)
					}
					if got := l.status(a); got != p.status {
						t.Errorf("status after refused %s = %q; want unchanged %q", act.name, got, p.status)
					}
					if got := l.revision(a); got != rev {
						t.Errorf("View().Revision after refused %s = %d; want %d", act.name, got, rev)
					}
				})
			}
		}
	}
	return cells
}

func TestActionPointTransitions(t *testing.T) {
	c := triggeredCommunity(t)
	raise := func(a *domain.ActionPoint) error { return a.Raise(raiseAPCmd(), c) }
	start := func(a *domain.ActionPoint) error { return a.Start("cleared the ground") }
	progress := func(a *domain.ActionPoint) error { return a.NoteProgress("bucket and tap bought") }
	achieve := func(a *domain.ActionPoint) error { return a.Achieve("station in use, photo 17") }
	drop := func(a *domain.ActionPoint) error { return a.Drop("market moved to the next village") }
	reopen := func(a *domain.ActionPoint) error { return a.Reopen("station broken, needs repair") }

	l := lifecycle[*domain.ActionPoint]{
		statuses: []string{"open", "in_progress", "achieved", "dropped"},
		paths: []path[*domain.ActionPoint]{
			{"open", "open", nil},
			{"open_after_progress_note", "open", []func(*domain.ActionPoint) error{progress}},
			{"in_progress", "in_progress", []func(*domain.ActionPoint) error{start}},
			{"in_progress_reopened_after_achieved", "in_progress", []func(*domain.ActionPoint) error{start, achieve, reopen}},
			{"in_progress_reopened_after_dropped", "in_progress", []func(*domain.ActionPoint) error{drop, reopen}},
			{"achieved", "achieved", []func(*domain.ActionPoint) error{start, achieve}},
			{"dropped_from_open", "dropped", []func(*domain.ActionPoint) error{drop}},
			{"dropped_from_in_progress", "dropped", []func(*domain.ActionPoint) error{start, drop}},
		},
		actions: []action[*domain.ActionPoint]{
			{"start", start, "ActionPointStarted.v1"},
			{"progress", progress, "ActionPointProgressNoted.v1"},
			{"achieve", achieve, "ActionPointAchieved.v1"},
			{"drop", drop, "ActionPointDropped.v1"},
			{"reopen", reopen, "ActionPointReopened.v1"},
		},
		// PRODUCT.md: open → in_progress → achieved; any non-final state →
		// dropped; achieved/dropped → in_progress by reopen; progress notes
		// on a non-final action point change no status.
		allowed: map[string]map[string]string{
			"start":    {"open": "in_progress"},
			"progress": {"open": "open", "in_progress": "in_progress"},
			"achieve":  {"in_progress": "achieved"},
			"drop":     {"open": "dropped", "in_progress": "dropped"},
			"reopen":   {"achieved": "in_progress", "dropped": "in_progress"},
		},
		fresh:    func() *domain.ActionPoint { return &domain.ActionPoint{} },
		load:     domain.LoadActionPoint,
		status:   func(a *domain.ActionPoint) string { return a.View().Status },
		revision: func(a *domain.ActionPoint) uint64 { return a.View().Revision },
		steps:    domain.ActionPointSteps,
		step: map[string]string{"start": domain.StepStart, "progress": domain.StepNoteProgress, "achieve": domain.StepAchieve,
			"drop": domain.StepDrop, "reopen": domain.StepReopen},
	}
	for i := range l.paths {
		l.paths[i].steps = append([]func(*domain.ActionPoint) error{raise}, l.paths[i].steps...)
	}
	if n := l.run(t); n != 8*5*2 {
		t.Errorf("tested %d cells; want %d", n, 8*5*2)
	}
}

func TestReferralTransitions(t *testing.T) {
	c := triggeredCommunity(t)
	raise := func(r *domain.Referral) error { return r.Raise(raiseReferralCmd(), c) }
	ack := func(r *domain.Referral) error { return r.Acknowledge() }
	complete := func(r *domain.Referral) error { return r.Complete(arrivedAt, "admitted") }
	closeR := func(r *domain.Referral) error { return r.Close() }
	cancel := func(r *domain.Referral) error { return r.Cancel("raised twice by mistake") }

	l := lifecycle[*domain.Referral]{
		statuses: []string{"raised", "acknowledged", "completed", "closed", "cancelled"},
		paths: []path[*domain.Referral]{
			{"raised", "raised", nil},
			{"acknowledged", "acknowledged", []func(*domain.Referral) error{ack}},
			{"completed", "completed", []func(*domain.Referral) error{ack, complete}},
			{"closed", "closed", []func(*domain.Referral) error{ack, complete, closeR}},
			{"cancelled_from_raised", "cancelled", []func(*domain.Referral) error{cancel}},
			{"cancelled_from_acknowledged", "cancelled", []func(*domain.Referral) error{ack, cancel}},
		},
		actions: []action[*domain.Referral]{
			{"acknowledge", ack, "ReferralAcknowledged.v1"},
			{"complete", complete, "ReferralCompleted.v1"},
			{"close", closeR, "ReferralClosed.v1"},
			{"cancel", cancel, "ReferralCancelled.v1"},
		},
		// PRODUCT.md: raised → acknowledged → completed → closed; or
		// cancelled (before it is completed).
		allowed: map[string]map[string]string{
			"acknowledge": {"raised": "acknowledged"},
			"complete":    {"acknowledged": "completed"},
			"close":       {"completed": "closed"},
			"cancel":      {"raised": "cancelled", "acknowledged": "cancelled"},
		},
		fresh:    func() *domain.Referral { return &domain.Referral{} },
		load:     domain.LoadReferral,
		status:   func(r *domain.Referral) string { return r.View().Status },
		revision: func(r *domain.Referral) uint64 { return r.View().Revision },
		steps:    domain.ReferralSteps,
		step: map[string]string{"acknowledge": domain.StepAcknowledge, "complete": domain.StepComplete,
			"close": domain.StepClose, "cancel": domain.StepCancel},
	}
	for i := range l.paths {
		l.paths[i].steps = append([]func(*domain.Referral) error{raise}, l.paths[i].steps...)
	}
	if n := l.run(t); n != 6*4*2 {
		t.Errorf("tested %d cells; want %d", n, 6*4*2)
	}
}

func TestFeedbackTransitions(t *testing.T) {
	c := triggeredCommunity(t)
	receive := func(f *domain.FeedbackItem) error { return f.Receive(receiveCmd(), c) }
	refer := func(f *domain.FeedbackItem) error { return f.Refer("District Health Management Team") }
	answer := func(f *domain.FeedbackItem) error { return f.Answer("Chlorine kills the virus; it is safe.") }
	closeLoop := func(f *domain.FeedbackItem) error { return f.CloseLoop(toldAt, true) }

	l := lifecycle[*domain.FeedbackItem]{
		statuses: []string{"received", "referred", "answered", "loop_closed"},
		paths: []path[*domain.FeedbackItem]{
			{"received", "received", nil},
			{"referred", "referred", []func(*domain.FeedbackItem) error{refer}},
			{"answered", "answered", []func(*domain.FeedbackItem) error{refer, answer}},
			{"loop_closed", "loop_closed", []func(*domain.FeedbackItem) error{refer, answer, closeLoop}},
		},
		actions: []action[*domain.FeedbackItem]{
			{"refer", refer, "FeedbackReferred.v1"},
			{"answer", answer, "FeedbackAnswered.v1"},
			{"close-loop", closeLoop, "FeedbackLoopClosed.v1"},
		},
		// PRODUCT.md: received → referred → answered → loop_closed.
		allowed: map[string]map[string]string{
			"refer":      {"received": "referred"},
			"answer":     {"referred": "answered"},
			"close-loop": {"answered": "loop_closed"},
		},
		fresh:    func() *domain.FeedbackItem { return &domain.FeedbackItem{} },
		load:     domain.LoadFeedbackItem,
		status:   func(f *domain.FeedbackItem) string { return f.View().Status },
		revision: func(f *domain.FeedbackItem) uint64 { return f.View().Revision },
		steps:    domain.FeedbackSteps,
		step:     map[string]string{"refer": domain.StepRefer, "answer": domain.StepAnswer, "close-loop": domain.StepCloseLoop},
	}
	for i := range l.paths {
		l.paths[i].steps = append([]func(*domain.FeedbackItem) error{receive}, l.paths[i].steps...)
	}
	if n := l.run(t); n != 4*3*2 {
		t.Errorf("tested %d cells; want %d", n, 4*3*2)
	}
}

func TestCommunityTransitions(t *testing.T) {
	register := func(c *domain.Community) error { return c.Register(registerCmd()) }
	trigger := func(c *domain.Community) error { return c.Trigger(143) }
	visit := func(c *domain.Community) error { return c.RecordVisit(visitCmd()) }

	l := lifecycle[*domain.Community]{
		statuses: []string{"registered", "triggered", "under_follow_up"},
		paths: []path[*domain.Community]{
			{"registered", "registered", nil},
			{"triggered", "triggered", []func(*domain.Community) error{trigger}},
			{"under_follow_up", "under_follow_up", []func(*domain.Community) error{trigger, visit}},
			{"under_follow_up_after_many_visits", "under_follow_up", []func(*domain.Community) error{trigger, visit, visit, visit}},
		},
		actions: []action[*domain.Community]{
			{"trigger", trigger, "CommunityTriggered.v1"},
			{"visit", visit, "VisitRecorded.v1"},
		},
		// PRODUCT.md: registered → triggered (one triggering session) →
		// under follow-up (every visit is an event on the stream).
		allowed: map[string]map[string]string{
			"trigger": {"registered": "triggered"},
			"visit":   {"triggered": "under_follow_up", "under_follow_up": "under_follow_up"},
		},
		fresh:    func() *domain.Community { return &domain.Community{} },
		load:     domain.LoadCommunity,
		status:   func(c *domain.Community) string { return c.View().Status },
		revision: func(c *domain.Community) uint64 { return c.View().Revision },
		steps:    domain.CommunitySteps,
		step:     map[string]string{"trigger": domain.StepTrigger, "visit": domain.StepRecordVisit},
	}
	for i := range l.paths {
		l.paths[i].steps = append([]func(*domain.Community) error{register}, l.paths[i].steps...)
	}
	if n := l.run(t); n != 4*2*2 {
		t.Errorf("tested %d cells; want %d", n, 4*2*2)
	}
}

// Commands on an aggregate that was never created are refused as not found,
// whatever their arguments, and record nothing.
func TestCommandsOnMissingAggregate(t *testing.T) {
	cases := []struct {
		name string
		run  func() (changes, error)
	}{
		{"community/trigger", func() (changes, error) { c := &domain.Community{}; return c, c.Trigger(10) }},
		{"community/visit", func() (changes, error) { c := &domain.Community{}; return c, c.RecordVisit(visitCmd()) }},
		{"community/visit_invalid_input", func() (changes, error) {
			c := &domain.Community{}
			return c, c.RecordVisit(domain.RecordVisit{})
		}},
		{"community/loaded_empty_history", func() (changes, error) {
			c, err := domain.LoadCommunity(nil)
			if err != nil {
				return c, err
			}
			return c, c.Trigger(10)
		}},
		{"action_point/start", func() (changes, error) { a := &domain.ActionPoint{}; return a, a.Start("") }},
		{"action_point/progress", func() (changes, error) { a := &domain.ActionPoint{}; return a, a.NoteProgress("n") }},
		{"action_point/achieve", func() (changes, error) { a := &domain.ActionPoint{}; return a, a.Achieve("") }},
		{"action_point/drop", func() (changes, error) { a := &domain.ActionPoint{}; return a, a.Drop("r") }},
		{"action_point/reopen", func() (changes, error) { a := &domain.ActionPoint{}; return a, a.Reopen("r") }},
		{"action_point/loaded_empty_history", func() (changes, error) {
			a, err := domain.LoadActionPoint([]domain.Event{})
			if err != nil {
				return a, err
			}
			return a, a.Start("")
		}},
		{"referral/acknowledge", func() (changes, error) { r := &domain.Referral{}; return r, r.Acknowledge() }},
		{"referral/complete", func() (changes, error) { r := &domain.Referral{}; return r, r.Complete(arrivedAt, "admitted") }},
		{"referral/close", func() (changes, error) { r := &domain.Referral{}; return r, r.Close() }},
		{"referral/cancel", func() (changes, error) { r := &domain.Referral{}; return r, r.Cancel("r") }},
		{"feedback/refer", func() (changes, error) { f := &domain.FeedbackItem{}; return f, f.Refer("DHMT") }},
		{"feedback/answer", func() (changes, error) { f := &domain.FeedbackItem{}; return f, f.Answer("a") }},
		{"feedback/close_loop", func() (changes, error) { f := &domain.FeedbackItem{}; return f, f.CloseLoop(toldAt, true) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.run()
			if err == nil {
				t.Fatal("command on a missing aggregate succeeded")
			}
			if !errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("error %v does not match ErrNotFound", err)
			}
			if errors.Is(err, domain.ErrTransition) {
				t.Errorf("not-found error %v also matches ErrTransition", err)
			}
			if got := domain.ErrorCode(err); got != domain.CodeNotFound {
				t.Errorf("ErrorCode = %q; want %q", got, domain.CodeNotFound)
			}
			wantNoChanges(t, a)
		})
	}
}

// The error a refused transition carries is what the person who sent the
// request reads: it names the action, the current status and the way out.
func TestTransitionErrorMessage(t *testing.T) {
	c := triggeredCommunity(t)
	cases := []struct {
		name string
		run  func(t *testing.T) error
		want string
	}{
		{"action point, one allowed state", func(t *testing.T) error {
			return newActionPoint(t, c).Achieve("")
		}, "transition_not_allowed: cannot achieve an action point that is open; that is allowed only when it is in progress"},
		{"referral, two allowed states", func(t *testing.T) error {
			r := newReferral(t, c)
			mustOK(t, r.Acknowledge(), "acknowledge")
			mustOK(t, r.Complete(arrivedAt, "admitted"), "complete")
			return r.Cancel("too late")
		}, "transition_not_allowed: cannot cancel a referral that is completed; that is allowed only when it is raised or acknowledged"},
		{"feedback item", func(t *testing.T) error {
			return newFeedback(t, c).CloseLoop(arrivedAt, true)
		}, "transition_not_allowed: cannot close the loop of a feedback item that is received; that is allowed only when it is answered"},
		{"community trigger", func(t *testing.T) error {
			return triggeredCommunity(t).Trigger(3)
		}, "transition_not_allowed: cannot trigger a community that is triggered; that is allowed only when it is registered"},
		{"community visit before triggering", func(t *testing.T) error {
			return newCommunity(t).RecordVisit(domain.RecordVisit{Kind: "initial", TrustRating: 3})
		}, "transition_not_allowed: cannot record a visit for a community that is registered; that is allowed only when it is triggered or under follow up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			if err == nil {
				t.Fatal("want a transition error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Error() = %q\nwant      %q", got, tc.want)
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("errors.As(*domain.Error) failed for %T", err)
			}
			if de.Code != domain.CodeTransition || de.Message == "" {
				t.Errorf("as *domain.Error: %+v; want code %s and a message", de, domain.CodeTransition)
			}
			if got := de.Error(); got != tc.want {
				t.Errorf("as *domain.Error, Error() = %q; want %q", got, tc.want)
			}
		})
	}
}

// The steps each status allows, as a page offers them: written out from
// PRODUCT.md for every status of every aggregate, in the order the lifecycle
// lists them. An unknown or empty status allows nothing.
func TestLifecycleSteps(t *testing.T) {
	cases := []struct {
		name   string
		steps  func(string) []string
		status string
		want   []string
	}{
		{"community/registered", domain.CommunitySteps, "registered", []string{"trigger"}},
		{"community/triggered", domain.CommunitySteps, "triggered", []string{"record_visit"}},
		{"community/under_follow_up", domain.CommunitySteps, "under_follow_up", []string{"record_visit"}},
		{"community/unknown", domain.CommunitySteps, "dropped", nil},
		{"action_point/open", domain.ActionPointSteps, "open", []string{"start", "note_progress", "drop"}},
		{"action_point/in_progress", domain.ActionPointSteps, "in_progress", []string{"note_progress", "achieve", "drop"}},
		{"action_point/achieved", domain.ActionPointSteps, "achieved", []string{"reopen"}},
		{"action_point/dropped", domain.ActionPointSteps, "dropped", []string{"reopen"}},
		{"action_point/empty", domain.ActionPointSteps, "", nil},
		{"referral/raised", domain.ReferralSteps, "raised", []string{"acknowledge", "cancel"}},
		{"referral/acknowledged", domain.ReferralSteps, "acknowledged", []string{"complete", "cancel"}},
		{"referral/completed", domain.ReferralSteps, "completed", []string{"close"}},
		{"referral/closed", domain.ReferralSteps, "closed", nil},
		{"referral/cancelled", domain.ReferralSteps, "cancelled", nil},
		{"feedback/received", domain.FeedbackSteps, "received", []string{"refer"}},
		{"feedback/referred", domain.FeedbackSteps, "referred", []string{"answer"}},
		{"feedback/answered", domain.FeedbackSteps, "answered", []string{"close_loop"}},
		{"feedback/loop_closed", domain.FeedbackSteps, "loop_closed", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.steps(tc.status); !slices.Equal(got, tc.want) {
				t.Errorf("steps(%q) = %v; want %v", tc.status, got, tc.want)
			}
		})
	}
}
