package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// The auditor's routes: the history of one stream and of the whole log with
// every envelope, the indicators and aggregates as they stood at a past time,
// verification of the hash chain, and exports. Auditors only; the answers are
// built by app.Audit, these handlers only translate HTTP.

// AsOfReader is what the as-of indicators need of the read side
// (projections.Engine has it). It is asked for separately from ReadModels so
// that a server without read models still serves the rest of the audit trail.
type AsOfReader interface {
	AsOf(ctx context.Context, at time.Time, basis string, f projections.Filter) (projections.AsOf, error)
}

// auditRoutes serves the audit routes.
type auditRoutes struct {
	s     *Server
	audit *app.Audit
	asOf  AsOfReader // nil: as-of indicators answer 503
}

func (s *Server) mountAudit(v1 v1Routes) {
	h := &auditRoutes{s: s, audit: s.app.Audit}
	if r, ok := s.read.(AsOfReader); ok {
		h.asOf = r
	}
	v1.handle(http.MethodGet, "/streams/{stream}/events", h.streamEvents)
	v1.handle(http.MethodGet, "/audit/events", h.events)
	v1.handle(http.MethodGet, "/audit/as-of", h.asOfIndicators)
	v1.handle(http.MethodGet, "/audit/as-of/aggregate", h.aggregateAsOf)
	v1.handle(http.MethodGet, "/audit/verify", h.verify)
	v1.handle(http.MethodGet, "/audit/export", h.export)
}

// auditQuery refuses callers who are not auditors — before anything about
// the request is judged, so that a coordinator learns nothing but 403 — and
// query parameters the route does not take.
func auditQuery(r *http.Request, allowed ...string) (url.Values, error) {
	if a := actorFrom(r.Context()); a.Role != domain.RoleAuditor {
		return nil, domain.Errorf(domain.CodeForbidden, "only an auditor may read the audit trail")
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(allowed, k) {
			return nil, domain.FieldError(k, "is not a parameter of this route (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return q, nil
}

// Cursors of the audit routes are opaque like the lists' (cursor.go): a
// version byte and a number, base64url. Each route has its own version, so
// that a stream's cursor (a revision) is refused by the global log (which
// pages by position) and the other way round.
const (
	logCursorVersion    = 2
	streamCursorVersion = 3
)

func encodeAuditCursor(version byte, n uint64) string {
	return base64.RawURLEncoding.EncodeToString(binary.AppendUvarint([]byte{version}, n))
}

func decodeAuditCursor(q url.Values, version byte) (uint64, error) {
	v := q.Get("cursor")
	if v == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil && len(b) >= 2 && b[0] == version {
		if n, k := binary.Uvarint(b[1:]); k == len(b)-1 && n > 0 {
			return n, nil
		}
	}
	return 0, domain.FieldError("cursor", "is not a cursor this route gave")
}

// pageLimit reads limit: 1 to 1000, default 100.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, domain.FieldError("limit", "must be an integer from 1 to 1000")
	}
	return n, nil
}

// logFilter reads the global log's filter parameters.
func logFilter(q url.Values) (app.LogFilter, error) {
	f := app.LogFilter{
		Area:        domain.Area{District: q.Get("district"), Chiefdom: q.Get("chiefdom")},
		CommunityID: q.Get("community_id"),
		ActorID:     q.Get("actor"),
		Basis:       q.Get("basis"),
	}
	for _, v := range q["type"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				f.Types = append(f.Types, t)
			}
		}
	}
	var err error
	if f.From, err = parseQueryTime(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = parseQueryTime(q, "to"); err != nil {
		return f, err
	}
	return f, nil
}

// parseAt reads the required time of an as-of question.
func parseAt(q url.Values) (time.Time, error) {
	if q.Get("at") == "" {
		return time.Time{}, domain.FieldError("at", "is required (an RFC 3339 time or a YYYY-MM-DD date)")
	}
	return parseQueryTime(q, "at")
}

type eventsPage struct {
	Stream     string          `json:"stream,omitempty"`
	Events     []app.EventView `json:"events"`
	NextCursor string          `json:"next_cursor,omitempty"`
	// Position is the last position of the log the page looked at.
	Position uint64 `json:"position,omitempty"`
}

// streamEvents is the history of one action point, referral, feedback item
// or community (or, for national auditors, of the user directory and the
// export log), in revision order.
func (h *auditRoutes) streamEvents(w http.ResponseWriter, r *http.Request) {
	q, err := auditQuery(r, "cursor", "limit")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	after, err := decodeAuditCursor(q, streamCursorVersion)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	limit, err := pageLimit(q)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	stream := mux.Vars(r)["stream"]
	events, next, err := h.audit.StreamEvents(r.Context(), actorFrom(r.Context()), stream, after, limit)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	page := eventsPage{Stream: stream, Events: events}
	if page.Events == nil {
		page.Events = []app.EventView{}
	}
	if next != 0 {
		page.NextCursor = encodeAuditCursor(streamCursorVersion, next)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
}

// events is the global log, filtered and paged by position. A page may hold
// fewer events than limit — even none — and still have a next_cursor: each
// request looks at a bounded stretch of the log.
func (h *auditRoutes) events(w http.ResponseWriter, r *http.Request) {
	page, err := h.eventsPage(r)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
}

func (h *auditRoutes) eventsPage(r *http.Request) (eventsPage, error) {
	q, err := auditQuery(r, "district", "chiefdom", "community_id", "type", "actor", "from", "to", "basis", "cursor", "limit")
	if err != nil {
		return eventsPage{}, err
	}
	f, err := logFilter(q)
	if err != nil {
		return eventsPage{}, err
	}
	after, err := decodeAuditCursor(q, logCursorVersion)
	if err != nil {
		return eventsPage{}, err
	}
	limit, err := pageLimit(q)
	if err != nil {
		return eventsPage{}, err
	}
	page, err := h.audit.Events(r.Context(), actorFrom(r.Context()), f, after, limit)
	if err != nil {
		return eventsPage{}, err
	}
	out := eventsPage{Events: page.Events, Position: page.Scanned}
	if page.Next != 0 {
		out.NextCursor = encodeAuditCursor(logCursorVersion, page.Next)
	}
	return out, nil
}

// asOfIndicators answers every indicator as it stood at a time: the
// read models rebuilt from the log as it was known then (basis=recorded, the
// default: what coordinators could see) or as it had happened by then
// (basis=occurred: including reports synced later).
func (h *auditRoutes) asOfIndicators(w http.ResponseWriter, r *http.Request) {
	q, err := auditQuery(r, "at", "basis", "district", "chiefdom", "community_id")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	basis, err := app.ParseBasis("basis", q.Get("basis"), app.BasisRecorded)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	at, err := parseAt(q)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.indicatorsAsOf(r.Context(), actorFrom(r.Context()), at, basis, app.LogFilter{
		Area: domain.Area{District: q.Get("district"), Chiefdom: q.Get("chiefdom")}, CommunityID: q.Get("community_id")})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, AsOfIndicatorsAnswer(res))
}

// indicatorsAsOf scopes an as-of question to the auditor's area and asks
// the read side: the route's answer and the console's page.
func (h *auditRoutes) indicatorsAsOf(ctx context.Context, actor app.Actor, at time.Time, basis string, asked app.LogFilter) (projections.AsOf, error) {
	f, err := h.audit.Scope(ctx, actor, asked)
	if err != nil {
		return projections.AsOf{}, err
	}
	if h.asOf == nil {
		return projections.AsOf{}, domain.Errorf(domain.CodeUnavailable, "this server runs no read models to answer from")
	}
	return h.asOf.AsOf(ctx, at, basis, projections.Filter{District: f.Area.District, Chiefdom: f.Area.Chiefdom, CommunityID: f.CommunityID})
}

// AsOfIndicatorsAnswer is the answer of /v1/audit/as-of: at, basis and the
// position the replay reached, and each indicator shaped exactly like the
// answer of its /v1/stats route (with that position), so that a client reads
// both with the same code. The CLI prints the same.
func AsOfIndicatorsAnswer(res projections.AsOf) any {
	type completion struct {
		Position uint64 `json:"position"`
		projections.CompletionStats
	}
	type trust struct {
		Position uint64 `json:"position"`
		projections.TrustStats
	}
	type referrals struct {
		Position uint64 `json:"position"`
		projections.ReferralStats
	}
	type feedback struct {
		Position uint64 `json:"position"`
		projections.FeedbackStats
	}
	return struct {
		At         time.Time  `json:"at"`
		Basis      string     `json:"basis"`
		Position   uint64     `json:"position"`
		Completion completion `json:"completion"`
		Trust      trust      `json:"trust"`
		Referrals  referrals  `json:"referrals"`
		Feedback   feedback   `json:"feedback"`
	}{res.At, res.Basis, res.Position, completion{res.Position, res.Completion}, trust{res.Position, res.Trust},
		referrals{res.Position, res.Referrals}, feedback{res.Position, res.Feedback}}
}

// asOfQuery reads at and basis of a per-aggregate as-of route.
func asOfQuery(r *http.Request) (time.Time, string, error) {
	q, err := auditQuery(r, "at", "basis")
	if err != nil {
		return time.Time{}, "", err
	}
	at, err := parseAt(q)
	if err != nil {
		return time.Time{}, "", err
	}
	return at, q.Get("basis"), nil
}

// asOfView is an aggregate's view (the shape of its GET route) with its
// stream, as_of, basis and the position of the last event folded in.
type asOfView struct {
	view any
	meta app.AsOfMeta
}

func (v asOfView) MarshalJSON() ([]byte, error) {
	view, err := json.Marshal(v.view)
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(struct {
		Stream   string    `json:"stream"`
		AsOf     time.Time `json:"as_of"`
		Basis    string    `json:"basis"`
		Position uint64    `json:"position"`
	}{v.meta.Stream, v.meta.At, v.meta.Basis, v.meta.Position})
	if err != nil {
		return nil, err
	}
	// Both are JSON objects: join their members.
	return append(append(view[:len(view)-1:len(view)-1], ','), meta[1:]...), nil
}

// AsOfAnswer is the answer of a per-aggregate as-of question: the view of
// the aggregate's GET route with stream, as_of, basis and position added.
// The CLI prints the same.
func AsOfAnswer(view any, meta app.AsOfMeta) json.Marshaler { return asOfView{view: view, meta: meta} }

// aggregateAsOf serves one aggregate as it stood at a time, named by its
// stream (as the history and the events show it), with its revision then as
// the ETag.
func (h *auditRoutes) aggregateAsOf(w http.ResponseWriter, r *http.Request) {
	q, err := auditQuery(r, "stream", "at", "basis")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	// Each parameter's own form first, then what is missing.
	basis, err := app.ParseBasis("basis", q.Get("basis"), app.BasisRecorded)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	stream := q.Get("stream")
	if c, id := domain.SplitStream(stream); stream != "" && (id == "" || domain.ValidateID("stream", id) != nil || !validCategory(c)) {
		h.s.writeError(w, r, domain.FieldError("stream", "must be an aggregate's stream: community-, actionpoint-, referral- or feedback-<id>"))
		return
	}
	at, err := parseAt(q)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if stream == "" {
		h.s.writeError(w, r, domain.FieldError("stream", "is required, e.g. actionpoint-KEN-0042-AP1"))
		return
	}
	v, meta, err := h.audit.AggregateAsOf(r.Context(), actorFrom(r.Context()), stream, at, basis)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeView(w, meta.Revision, asOfView{view: v, meta: meta})
}

func validCategory(c string) bool {
	return c == domain.CommunityCategory || c == domain.ActionPointCategory || c == domain.ReferralCategory || c == domain.FeedbackCategory
}

// verify walks the hash chain of the whole log. A broken chain is the
// answer (200 with intact false), not an error of the request.
func (h *auditRoutes) verify(w http.ResponseWriter, r *http.Request) {
	if _, err := auditQuery(r); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	v, err := h.audit.Verify(r.Context(), actorFrom(r.Context()))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return // the auditor went away
		}
		h.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}
