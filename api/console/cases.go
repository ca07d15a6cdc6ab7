package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// lateSync is how much later than it happened an event may reach the server
// before the history marks it as synced late.
const lateSync = 24 * time.Hour

// caseView is one case with its whole history and the actions a
// coordinator takes on it.
type caseView struct {
	Kind, ID string
	// KindKey names the kind (a text key); Title is the case's own words.
	KindKey, Title string
	Status         string
	Place          string
	Community      string
	Revision       uint64
	Fields         []caseField
	History        []historyRow
	Actions        []caseAction
	// Done is a text key after a change; Problem a refusal's message, with
	// ProblemKey saying what kind of refusal it was.
	Done, Problem, ProblemKey string
	Back                      string
	CanAct                    bool
	// Older and Newer page the history, newest first.
	Older, Newer string
}

// historyPage is how many events a case page shows at once.
const historyPage = 100

type caseField struct{ Key, Value string }

type historyRow struct {
	Type, Who          string
	Occurred, Recorded time.Time
	Late               bool
	Details            string
}

// caseAction is one form on the case page: Name is the action the form
// posts, and its fields are labelled by text keys.
type caseAction struct {
	Name   string
	Fields []actionField
}

type actionField struct {
	Name, Key, Type string
	Options         []string
}

// actionsOf are the forms of the console's commands on each kind of case.
// A case page shows only those whose step the application's Steps allows:
// the case's lifecycle from its status and the user's role.
var actionsOf = map[string][]caseAction{
	app.CaseActionPoint: {
		{Name: "drop", Fields: []actionField{{Name: "reason", Key: "field_reason", Type: "text"}}},
		{Name: "reopen", Fields: []actionField{{Name: "reason", Key: "field_reason", Type: "text"}}},
	},
	app.CaseReferral: {
		{Name: "acknowledge"},
		{Name: "complete", Fields: []actionField{
			{Name: "arrived_at", Key: "field_arrived_at", Type: "datetime-local"},
			{Name: "outcome", Key: "field_outcome", Type: "select", Options: domain.Outcomes}}},
		{Name: "close"},
		{Name: "cancel", Fields: []actionField{{Name: "reason", Key: "field_reason", Type: "text"}}},
	},
	app.CaseFeedback: {
		{Name: "refer", Fields: []actionField{{Name: "to", Key: "field_to", Type: "text"}}},
		{Name: "answer", Fields: []actionField{{Name: "response", Key: "field_response", Type: "textarea"}}},
		{Name: "close_loop", Fields: []actionField{{Name: "satisfied", Key: "field_satisfied", Type: "yesno"}}},
	},
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	vars := mux.Vars(r)
	v := c.view(r, "case", s, actor)
	cv, err := c.loadCase(r.Context(), actor, vars["kind"], vars["id"])
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
	cv.pageHistory(max(skip, 0))
	if done := r.URL.Query().Get("done"); done != "" {
		if _, ok := text(v.Lang, "done_"+done); ok {
			cv.Done = "done_" + done
		}
	}
	v.Data = cv
	c.render(w, r, http.StatusOK, v)
}

// loadCase reads a case through the application's area-scoped history.
func (c *Console) loadCase(ctx context.Context, actor app.Actor, kind, id string) (*caseView, error) {
	h, err := c.cfg.App.Queries.History(ctx, actor, kind, id)
	if err != nil {
		return nil, err
	}
	cv := &caseView{Kind: kind, ID: id, KindKey: "kind_" + strings.ReplaceAll(kind, "-", "_"),
		Place: placeName(h.Place.Chiefdom) + ", " + placeName(h.Place.District),
		Back:  "/case/" + kind + "/" + url.PathEscape(id), CanAct: actor.Role == domain.RoleCoordinator}
	switch st := h.State.(type) {
	case domain.CommunityView:
		cv.Title, cv.Status, cv.Revision = st.Name, st.Status, st.Revision
		cv.Fields = []caseField{{"field_population", strconv.Itoa(st.Population)}, {"field_visits", strconv.Itoa(st.Visits)},
			{"field_attendance", strconv.Itoa(st.Attendance)}}
	case domain.ActionPointView:
		cv.Title, cv.Status, cv.Revision, cv.Community = st.Title, st.Status, st.Revision, st.CommunityID
		cv.Fields = []caseField{{"field_category", st.Category}, {"field_kind", st.Kind}, {"field_due", string(st.DueDate)},
			{"field_last_note", st.LastNote}, {"field_evidence", st.Evidence}, {"field_reason", st.Reason}}
	case domain.ReferralView:
		cv.Title, cv.Status, cv.Revision, cv.Community = st.Kind, st.Status, st.Revision, st.CommunityID
		cv.Fields = []caseField{{"field_channel", st.Channel}, {"field_outcome", st.Outcome}, {"field_reason", st.Reason}}
		if st.ArrivedAt != nil {
			cv.Fields = append(cv.Fields, caseField{"field_arrived_at", st.ArrivedAt.UTC().Format("2006-01-02 15:04")})
		}
	case domain.FeedbackView:
		cv.Title, cv.Status, cv.Revision, cv.Community = st.Text, st.Status, st.Revision, st.CommunityID
		cv.Fields = []caseField{{"field_type", st.Type}, {"field_channel", st.Channel}, {"field_to", st.To}, {"field_response", st.Response}}
		if st.Satisfied != nil {
			cv.Fields = append(cv.Fields, caseField{"field_satisfied", strconv.FormatBool(*st.Satisfied)})
		}
	}
	if cv.CanAct {
		steps := app.Steps(actor, kind, cv.Status)
		for _, a := range actionsOf[kind] {
			if slices.Contains(steps, a.Name) {
				cv.Actions = append(cv.Actions, a)
			}
		}
	}
	for i := len(h.Entries) - 1; i >= 0; i-- { // newest first
		e := h.Entries[i]
		row := historyRow{Type: strings.TrimSuffix(e.Type, ".v1"), Who: e.ActorRole + " " + e.ActorID,
			Occurred: e.OccurredAt, Recorded: e.RecordedAt, Late: e.RecordedAt.Sub(e.OccurredAt) > lateSync}
		if b, err := json.Marshal(e.Event); err == nil {
			row.Details = details(b)
		}
		cv.History = append(cv.History, row)
	}
	return cv, nil
}

// pageHistory keeps historyPage events from skip on, with links to the
// others.
func (cv *caseView) pageHistory(skip int) {
	skip = min(skip, len(cv.History))
	if skip > 0 {
		cv.Newer = cv.Back + "?skip=" + strconv.Itoa(max(skip-historyPage, 0))
	}
	end := min(skip+historyPage, len(cv.History))
	if end < len(cv.History) {
		cv.Older = cv.Back + "?skip=" + strconv.Itoa(end)
	}
	cv.History = cv.History[skip:end]
}

// details shows an event's fields as "name: value" pairs, leaving out what
// the row already says.
func details(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		switch k {
		case "id", "community_id", "district", "chiefdom":
			continue
		}
		val := m[k]
		if val == nil || val == "" {
			continue
		}
		s, _ := json.Marshal(val)
		parts = append(parts, k+": "+strings.Trim(string(s), `"`))
	}
	return strings.Join(parts, "; ")
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// act runs one command on a case through the application's own handler,
// with the revision the form was drawn at as If-Match. A refusal is shown on
// the case page with the case as it now stands.
func (c *Console) act(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	if !c.checkCSRF(w, r, s) {
		return
	}
	vars := mux.Vars(r)
	kind, id := vars["kind"], vars["id"]
	f := r.PostForm
	var err error
	rev, perr := strconv.ParseUint(f.Get("revision"), 10, 64)
	if perr != nil {
		err = domain.FieldError("revision", "is missing")
	} else {
		err = c.command(r.Context(), actor, kind, id, f.Get("action"), rev, f)
	}
	back := f.Get("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") {
		back = "/case/" + kind + "/" + url.PathEscape(id)
	}
	if err == nil {
		sep := "?"
		if strings.Contains(back, "?") {
			sep = "&"
		}
		http.Redirect(w, r, back+sep+"done="+url.QueryEscape(f.Get("action")), http.StatusSeeOther)
		return
	}
	status := c.cfg.StatusOf(err)
	if status >= 500 || status == http.StatusNotFound || status == http.StatusForbidden {
		c.failed(w, r, s, err)
		return
	}
	v := c.view(r, "case", s, actor)
	cv, lerr := c.loadCase(r.Context(), actor, kind, id)
	if lerr != nil {
		c.failed(w, r, s, lerr)
		return
	}
	cv.pageHistory(0)
	cv.Problem = err.Error()
	if de, ok := err.(*domain.Error); ok {
		cv.Problem = de.Message
		if de.Field != "" {
			cv.Problem = de.Field + ": " + de.Message
		}
	}
	switch status {
	case http.StatusPreconditionFailed:
		cv.ProblemKey = "problem_stale"
	case http.StatusConflict:
		cv.ProblemKey = "problem_transition"
	default:
		cv.ProblemKey = "problem_input"
	}
	v.Data = cv
	c.render(w, r, status, v)
}

// command maps a form to the application's command and runs its handler.
func (c *Console) command(ctx context.Context, actor app.Actor, kind, id, action string, rev uint64, f url.Values) error {
	m := app.Meta{Actor: actor, IfMatch: &rev}
	h := c.cfg.App
	var res app.Result
	var err error
	switch kind + "/" + action {
	case app.CaseActionPoint + "/drop":
		res, err = h.DropActionPoint.Handle(ctx, app.DropActionPoint{Meta: m, ID: id, Reason: f.Get("reason")})
	case app.CaseActionPoint + "/reopen":
		res, err = h.ReopenActionPoint.Handle(ctx, app.ReopenActionPoint{Meta: m, ID: id, Reason: f.Get("reason")})
	case app.CaseReferral + "/acknowledge":
		res, err = h.AcknowledgeReferral.Handle(ctx, app.AcknowledgeReferral{Meta: m, ID: id})
	case app.CaseReferral + "/complete":
		at, perr := time.Parse("2006-01-02T15:04", f.Get("arrived_at"))
		if perr != nil {
			return domain.FieldError("arrived_at", "must be a date and time")
		}
		res, err = h.CompleteReferral.Handle(ctx, app.CompleteReferral{Meta: m, ID: id, ArrivedAt: at.UTC(), Outcome: f.Get("outcome")})
	case app.CaseReferral + "/close":
		res, err = h.CloseReferral.Handle(ctx, app.CloseReferral{Meta: m, ID: id})
	case app.CaseReferral + "/cancel":
		res, err = h.CancelReferral.Handle(ctx, app.CancelReferral{Meta: m, ID: id, Reason: f.Get("reason")})
	case app.CaseFeedback + "/refer":
		res, err = h.ReferFeedback.Handle(ctx, app.ReferFeedback{Meta: m, ID: id, To: f.Get("to")})
	case app.CaseFeedback + "/answer":
		res, err = h.AnswerFeedback.Handle(ctx, app.AnswerFeedback{Meta: m, ID: id, Response: f.Get("response")})
	case app.CaseFeedback + "/close_loop":
		var sat *bool
		switch f.Get("satisfied") {
		case "yes":
			sat = new(bool)
			*sat = true
		case "no":
			sat = new(bool)
		}
		res, err = h.CloseFeedbackLoop.Handle(ctx, app.CloseFeedbackLoop{Meta: m, ID: id, Satisfied: sat})
	default:
		return domain.FieldError("action", "is not an action on this case")
	}
	if err != nil {
		return err
	}
	// The page it redirects to reads the read models: wait for this write
	// to be in them, or a work list could still show the case as it was.
	// Read models lagging past the wait make that page older, not the
	// write undone: it is answered as done either way.
	_ = h.Reads.Reflect(ctx, res.Position)
	return nil
}
