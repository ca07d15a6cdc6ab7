package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// The write routes of the HTTP API, translated to the application's
// commands the way api/ translates them: the same body fields (unknown ones
// refused), the same envelope (occurred_at, Idempotency-Key, If-Match) and
// the same handlers. Nothing here decides anything: every rule is the
// handlers' and the domain's, so an imported item is accepted or refused
// exactly as the route would. The API's own tests hold the routes to the
// document; importer_test holds this table to the routes by importing a
// file and sending the same items over HTTP, which must all be replays.

// route runs one kind of item.
type route struct {
	// resource and action place it: POST /v1/{resource} has action "",
	// POST /v1/{resource}/{id}/{action} has its action.
	resource, action string
	run              func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error)
}

// envelope are the fields every write body may carry.
type envelope struct {
	OccurredAt *string `json:"occurred_at"`
}

func (e envelope) apply(m *app.Meta) error {
	t, err := parseTime("occurred_at", e.OccurredAt)
	m.OccurredAt = t
	return err
}

// decode reads body into dst (an envelope-embedding struct) and applies the
// envelope.
func decode[B interface{ env() envelope }](body []byte, m *app.Meta) (B, error) {
	var b B
	if err := decodeJSON(body, &b); err != nil {
		return b, err
	}
	return b, b.env().apply(m)
}

type (
	registerBody struct {
		envelope
		ID         *string `json:"id"`
		Name       *string `json:"name"`
		District   *string `json:"district"`
		Chiefdom   *string `json:"chiefdom"`
		Section    *string `json:"section"`
		Population *int    `json:"population"`
	}
	triggerBody struct {
		envelope
		Attendance *int `json:"attendance"`
	}
	visitBody struct {
		envelope
		Kind        *string          `json:"kind"`
		TrustRating *int             `json:"trust_rating"`
		Concerns    []domain.Concern `json:"concerns"`
	}
	raiseAPBody struct {
		envelope
		ID          *string `json:"id"`
		CommunityID *string `json:"community_id"`
		Title       *string `json:"title"`
		Category    *string `json:"category"`
		Kind        *string `json:"kind"`
		DueDate     *string `json:"due_date"`
	}
	noteBody struct {
		envelope
		Note *string `json:"note"`
	}
	evidenceBody struct {
		envelope
		Evidence *string `json:"evidence"`
	}
	reasonBody struct {
		envelope
		Reason *string `json:"reason"`
	}
	raiseReferralBody struct {
		envelope
		ID           *string `json:"id"`
		CommunityID  *string `json:"community_id"`
		Kind         *string `json:"kind"`
		Channel      *string `json:"channel"`
		PersonRef    *string `json:"person_ref"`
		SymptomOnset *string `json:"symptom_onset"`
	}
	envelopeBody struct{ envelope }
	completeBody struct {
		envelope
		ArrivedAt *string `json:"arrived_at"`
		Outcome   *string `json:"outcome"`
	}
	receiveBody struct {
		envelope
		ID           *string `json:"id"`
		CommunityID  *string `json:"community_id"`
		Type         *string `json:"type"`
		Text         *string `json:"text"`
		NeedCategory *string `json:"need_category"`
		Channel      *string `json:"channel"`
	}
	referBody struct {
		envelope
		To *string `json:"to"`
	}
	answerBody struct {
		envelope
		Response *string `json:"response"`
	}
	closeLoopBody struct {
		envelope
		CommunicatedAt *string `json:"communicated_at"`
		Satisfied      *bool   `json:"satisfied"`
	}
)

func (e envelope) env() envelope { return e }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func created(res app.Result, err error) (app.Result, error) {
	if err == nil {
		res.Created = true
	}
	return res, err
}

var routes = []route{
	{"communities", "", func(ctx context.Context, a *app.Application, m app.Meta, _ string, body []byte) (app.Result, error) {
		b, err := decode[registerBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		pop := 0
		if b.Population != nil {
			pop = *b.Population
		}
		return a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: m, ID: str(b.ID), Name: str(b.Name), Population: pop,
			Place: domain.Place{District: str(b.District), Chiefdom: str(b.Chiefdom), Section: str(b.Section)}})
	}},
	{"communities", "triggering", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[triggerBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.TriggerCommunity.Handle(ctx, app.TriggerCommunity{Meta: m, CommunityID: id, Attendance: b.Attendance})
	}},
	{"communities", "visits", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[visitBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return created(a.RecordVisit.Handle(ctx, app.RecordVisit{Meta: m, CommunityID: id, Kind: str(b.Kind), TrustRating: b.TrustRating, Concerns: b.Concerns}))
	}},
	{"action-points", "", func(ctx context.Context, a *app.Application, m app.Meta, _ string, body []byte) (app.Result, error) {
		b, err := decode[raiseAPBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: m, ID: str(b.ID), CommunityID: str(b.CommunityID),
			Title: str(b.Title), Category: str(b.Category), Kind: str(b.Kind), DueDate: str(b.DueDate)})
	}},
	{"action-points", "start", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[noteBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.StartActionPoint.Handle(ctx, app.StartActionPoint{Meta: m, ID: id, Note: str(b.Note)})
	}},
	{"action-points", "progress", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[noteBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.NoteProgress.Handle(ctx, app.NoteProgress{Meta: m, ID: id, Note: str(b.Note)})
	}},
	{"action-points", "achieve", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[evidenceBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.AchieveActionPoint.Handle(ctx, app.AchieveActionPoint{Meta: m, ID: id, Evidence: str(b.Evidence)})
	}},
	{"action-points", "drop", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[reasonBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.DropActionPoint.Handle(ctx, app.DropActionPoint{Meta: m, ID: id, Reason: str(b.Reason)})
	}},
	{"action-points", "reopen", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[reasonBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.ReopenActionPoint.Handle(ctx, app.ReopenActionPoint{Meta: m, ID: id, Reason: str(b.Reason)})
	}},
	{"referrals", "", func(ctx context.Context, a *app.Application, m app.Meta, _ string, body []byte) (app.Result, error) {
		b, err := decode[raiseReferralBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		onset, err := parseTime("symptom_onset", b.SymptomOnset)
		if err != nil {
			return app.Result{}, err
		}
		return a.RaiseReferral.Handle(ctx, app.RaiseReferral{Meta: m, ID: str(b.ID), CommunityID: str(b.CommunityID), Kind: str(b.Kind),
			Channel: str(b.Channel), PersonRef: str(b.PersonRef), SymptomOnset: onset})
	}},
	{"referrals", "acknowledge", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		if _, err := decode[envelopeBody](body, &m); err != nil {
			return app.Result{}, err
		}
		return a.AcknowledgeReferral.Handle(ctx, app.AcknowledgeReferral{Meta: m, ID: id})
	}},
	{"referrals", "complete", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[completeBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		arrived, err := parseTime("arrived_at", b.ArrivedAt)
		if err != nil {
			return app.Result{}, err
		}
		return a.CompleteReferral.Handle(ctx, app.CompleteReferral{Meta: m, ID: id, ArrivedAt: arrived, Outcome: str(b.Outcome)})
	}},
	{"referrals", "close", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		if _, err := decode[envelopeBody](body, &m); err != nil {
			return app.Result{}, err
		}
		return a.CloseReferral.Handle(ctx, app.CloseReferral{Meta: m, ID: id})
	}},
	{"referrals", "cancel", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[reasonBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.CancelReferral.Handle(ctx, app.CancelReferral{Meta: m, ID: id, Reason: str(b.Reason)})
	}},
	{"feedback", "", func(ctx context.Context, a *app.Application, m app.Meta, _ string, body []byte) (app.Result, error) {
		b, err := decode[receiveBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.ReceiveFeedback.Handle(ctx, app.ReceiveFeedback{Meta: m, ID: str(b.ID), CommunityID: str(b.CommunityID), Type: str(b.Type),
			Text: str(b.Text), NeedCategory: str(b.NeedCategory), Channel: str(b.Channel)})
	}},
	{"feedback", "refer", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[referBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.ReferFeedback.Handle(ctx, app.ReferFeedback{Meta: m, ID: id, To: str(b.To)})
	}},
	{"feedback", "answer", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[answerBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		return a.AnswerFeedback.Handle(ctx, app.AnswerFeedback{Meta: m, ID: id, Response: str(b.Response)})
	}},
	{"feedback", "close-loop", func(ctx context.Context, a *app.Application, m app.Meta, id string, body []byte) (app.Result, error) {
		b, err := decode[closeLoopBody](body, &m)
		if err != nil {
			return app.Result{}, err
		}
		at, err := parseTime("communicated_at", b.CommunicatedAt)
		if err != nil {
			return app.Result{}, err
		}
		return a.CloseFeedbackLoop.Handle(ctx, app.CloseFeedbackLoop{Meta: m, ID: id, CommunicatedAt: at, Satisfied: b.Satisfied})
	}},
}

// Refusals that the router itself gives, before any handler.
var (
	errRouteNotFound    = domain.Errorf("route_not_found", "no such write route")
	errMethodNotAllowed = domain.Errorf("method_not_allowed", "only POST writes")
)

// match finds the route of a path, and the id in it.
func match(method, path string) (*route, string, error) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(seg) < 2 || seg[0] != "v1" {
		return nil, "", errRouteNotFound
	}
	resource, id, action := seg[1], "", ""
	switch len(seg) {
	case 2:
	case 4:
		id, action = seg[2], seg[3]
		if id == "" {
			return nil, "", errRouteNotFound
		}
	default:
		// GET /v1/{resource}/{id} reads; nothing to import.
		return nil, "", errRouteNotFound
	}
	for i := range routes {
		if routes[i].resource == resource && routes[i].action == action {
			if method != "POST" {
				return nil, "", errMethodNotAllowed
			}
			return &routes[i], id, nil
		}
	}
	return nil, "", errRouteNotFound
}

// maxKey bounds an Idempotency-Key, as the API does.
const maxKey = 200

// checkKey validates an Idempotency-Key as the API does.
func checkKey(key string) error {
	if key == "" || len(key) > maxKey || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return domain.FieldError("Idempotency-Key", "must be 1 to %d visible ASCII characters", maxKey)
	}
	return nil
}

// parseIfMatch reads an If-Match value as the API does; "*" and "" mean
// none.
func parseIfMatch(v string) (*uint64, error) {
	if v == "" || v == "*" {
		return nil, nil
	}
	v = strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`)
	rev, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, domain.FieldError("If-Match", "must be an ETag as returned by a read, e.g. \"3\"")
	}
	return &rev, nil
}

// parseTime reads an optional RFC 3339 time from a body field.
func parseTime(field string, v *string) (time.Time, error) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, domain.FieldError(field, "must be an RFC 3339 time, e.g. 2015-02-14T09:30:00Z")
	}
	return t, nil
}

// decodeJSON decodes one JSON object into dst, refusing unknown fields; an
// empty body is an empty object.
func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return domain.FieldError("body", "is not valid JSON (at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			if typ.Field == "" {
				return domain.FieldError("body", "must be a JSON object")
			}
			return domain.FieldError(typ.Field, "is of the wrong type")
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return domain.FieldError(strings.Trim(f, `"`), "is not a field of this request")
		}
		return domain.FieldError("body", "is not acceptable JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return domain.FieldError("body", "must hold exactly one JSON object")
	}
	return nil
}
