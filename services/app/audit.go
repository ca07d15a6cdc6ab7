package app

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/places"
)

// This file is the auditor's side of the application: the stored log with
// every event's whole envelope, aggregates as they stood at a past time,
// verification of the hash chain, and the one command an auditor issues
// (RecordExport). Everything here is for auditors only; an auditor with an
// area sees only that area.

// Bases of an as-of question and of a time filter.
const (
	// BasisRecorded: by recorded_at, server time — what the system knew.
	BasisRecorded = "recorded"
	// BasisOccurred: by occurred_at, field time — what had happened,
	// including reports synced later.
	BasisOccurred = "occurred"
)

// Audit serves auditors; Application.Audit is the one New builds.
type Audit struct {
	store eventstore.Store
	// places checks the district and chiefdom a query names; nil is
	// Sierra Leone's list.
	places *places.Catalogue
	// RecordExport records an export before it is streamed.
	RecordExport Handler[RecordExport]
}

func requireAuditor(a Actor) error {
	return requireRole(a, "read the audit trail", domain.RoleAuditor)
}

// ParseBasis checks a basis given by a client; empty means def.
func ParseBasis(field, v, def string) (string, error) {
	switch v {
	case "":
		return def, nil
	case BasisRecorded, BasisOccurred:
		return v, nil
	}
	return "", domain.FieldError(field, "must be %s or %s", BasisRecorded, BasisOccurred)
}

// ---------------------------------------------------------------------------
// Events as auditors see them

// EventView is one stored event with its whole envelope and its data decoded.
// Hashes are hex. Nothing is left out except what must never leave the
// server: a user's name (personal data; the id, role and area say who acted)
// and token hash.
type EventView struct {
	EventID        string    `json:"event_id"`
	Type           string    `json:"type"`
	Stream         string    `json:"stream"`
	Revision       uint64    `json:"revision"`
	Position       uint64    `json:"position"`
	OccurredAt     time.Time `json:"occurred_at"`
	RecordedAt     time.Time `json:"recorded_at"`
	ActorID        string    `json:"actor_id"`
	ActorRole      string    `json:"actor_role"`
	CorrelationID  string    `json:"correlation_id"`
	CausationID    string    `json:"causation_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	PrevHash       string    `json:"prev_hash"`
	Hash           string    `json:"hash"`
	// Data is the domain event (its json tags), or null for an event the
	// domain does not know, whose stored bytes are then in DataBase64.
	Data       any      `json:"data"`
	DataBase64 string   `json:"data_base64,omitempty"`
	Redacted   []string `json:"redacted,omitempty"`
}

// AuditedEvent is a stored event decoded for auditing, with the place of its
// stream.
type AuditedEvent struct {
	eventstore.RecordedEvent
	// Event is the decoded domain event; nil when the type is not one.
	Event domain.Event
	// Place and CommunityID locate the event: the place of its aggregate's
	// community, a user's area, an export's place. HasPlace is false for
	// events that sit nowhere (a national user, a national export).
	Place       domain.Place
	CommunityID string
	HasPlace    bool
}

// userView is what an auditor sees of a created user.
type userView struct {
	ID   string      `json:"id"`
	Role string      `json:"role"`
	Area domain.Area `json:"area"`
}

// View returns e as auditors see it.
func (e *AuditedEvent) View() EventView {
	rec := &e.RecordedEvent
	v := EventView{
		EventID: rec.ID.String(), Type: rec.Type, Stream: rec.Stream, Revision: rec.Revision, Position: rec.Position,
		OccurredAt: rec.Meta.OccurredAt.UTC(), RecordedAt: rec.RecordedAt.UTC(),
		ActorID: rec.Meta.ActorID, ActorRole: rec.Meta.ActorRole, CorrelationID: rec.Meta.CorrelationID,
		CausationID: rec.Meta.CausationID, IdempotencyKey: rec.Meta.IdempotencyKey,
		PrevHash: hex.EncodeToString(rec.PrevHash[:]), Hash: hex.EncodeToString(rec.Hash[:]),
	}
	switch ev := e.Event.(type) {
	case nil:
		v.DataBase64 = base64.StdEncoding.EncodeToString(rec.Data)
	case *domain.UserCreated:
		// The idempotency key goes too: with the token secret, it is what a
		// repeated creation derives the user's token from.
		v.Data, v.Redacted = userView{ID: ev.ID, Role: ev.Role, Area: ev.Area}, []string{"name", "token_hash", "idempotency_key"}
		v.IdempotencyKey = ""
	case *domain.UserTokenIssued:
		// Likewise: the key derives the new token.
		v.Data, v.Redacted = struct {
			ID string `json:"id"`
		}{ev.ID}, []string{"token_hash", "idempotency_key"}
		v.IdempotencyKey = ""
	default:
		v.Data = ev
	}
	return v
}

func decodeForAudit(rec eventstore.RecordedEvent) AuditedEvent {
	ev, err := domain.Unmarshal(rec.Type, rec.Data)
	if err != nil {
		ev = nil // shown as stored bytes; the auditor still sees it
	}
	return AuditedEvent{RecordedEvent: rec, Event: ev}
}

// ---------------------------------------------------------------------------
// Where events are

// placer locates events. An aggregate's first event carries its community's
// place; its later events are located by reading that first event once,
// remembered in a bounded cache (streams are written in bursts, so recent
// ones are what a scan meets again).
type placer struct {
	store eventstore.Store
	cache map[string]located
}

type located struct {
	place     domain.Place
	community string
	ok        bool
}

const placeCacheSize = 1 << 16

func newPlacer(store eventstore.Store) *placer {
	return &placer{store: store, cache: map[string]located{}}
}

// locatedBy returns the location an event itself states, if it states one.
func locatedBy(ev domain.Event) (located, bool) {
	switch e := ev.(type) {
	case *domain.CommunityRegistered:
		return located{e.Place, e.ID, true}, true
	case *domain.ActionPointRaised:
		return located{e.Place, e.CommunityID, true}, true
	case *domain.ReferralRaised:
		return located{e.Place, e.CommunityID, true}, true
	case *domain.FeedbackReceived:
		return located{e.Place, e.CommunityID, true}, true
	case *domain.UserCreated:
		return located{domain.Place{District: e.Area.District, Chiefdom: e.Area.Chiefdom}, "", e.Area.District != ""}, true
	case *domain.ExportRecorded:
		return located{domain.Place{District: e.District, Chiefdom: e.Chiefdom}, "", e.District != ""}, true
	}
	return located{}, false
}

// aggregateCategories are the stream categories whose first event locates
// the whole stream.
var aggregateCategories = []string{domain.CommunityCategory, domain.ActionPointCategory, domain.ReferralCategory, domain.FeedbackCategory}

func (p *placer) locate(ctx context.Context, e *AuditedEvent) error {
	l, ok := locatedBy(e.Event)
	category, _ := domain.SplitStream(e.Stream)
	aggregate := slices.Contains(aggregateCategories, category)
	switch {
	case ok && aggregate:
		p.remember(e.Stream, l)
	case ok:
	case !aggregate:
	default:
		var err error
		if l, err = p.ofStream(ctx, e.Stream); err != nil {
			return err
		}
	}
	e.Place, e.CommunityID, e.HasPlace = l.place, l.community, l.ok
	return nil
}

func (p *placer) ofStream(ctx context.Context, stream string) (located, error) {
	if l, ok := p.cache[stream]; ok {
		return l, nil
	}
	first, err := p.store.ReadStream(ctx, stream, 0, 1)
	if err != nil {
		return located{}, fmt.Errorf("locating %s: %w", stream, err)
	}
	var l located
	if len(first) == 1 {
		if ev, err := domain.Unmarshal(first[0].Type, first[0].Data); err == nil {
			l, _ = locatedBy(ev)
		}
	}
	p.remember(stream, l)
	return l, nil
}

func (p *placer) remember(stream string, l located) {
	if len(p.cache) >= placeCacheSize {
		clear(p.cache)
	}
	p.cache[stream] = l
}

// ---------------------------------------------------------------------------
// The global log

// LogFilter selects events of the global log. Zero fields select everything.
type LogFilter struct {
	// Area and CommunityID select by place; events that sit nowhere (a
	// national user, a national export) are selected only without them.
	Area        domain.Area
	CommunityID string
	// Types are event type names, e.g. "ActionPointAchieved.v1".
	Types []string
	// ActorID selects the events one user wrote.
	ActorID string
	// Basis says which time From and To bound: BasisOccurred (the default)
	// or BasisRecorded. From ≤ t < To.
	Basis    string
	From, To time.Time
}

func (f *LogFilter) timeOf(rec *eventstore.RecordedEvent) time.Time {
	if f.Basis == BasisRecorded {
		return rec.RecordedAt
	}
	return rec.Meta.OccurredAt
}

// envelopeMatches checks what the envelope alone decides.
func (f *LogFilter) envelopeMatches(rec *eventstore.RecordedEvent) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, rec.Type) {
		return false
	}
	if f.ActorID != "" && rec.Meta.ActorID != f.ActorID {
		return false
	}
	t := f.timeOf(rec)
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || t.Before(f.To))
}

func (f *LogFilter) placeMatters() bool { return f.Area.District != "" || f.CommunityID != "" }

func (f *LogFilter) placeMatches(e *AuditedEvent) bool {
	if !f.placeMatters() {
		return true
	}
	if !e.HasPlace || !f.Area.Contains(e.Place) {
		return false
	}
	return f.CommunityID == "" || f.CommunityID == e.CommunityID
}

// Scope checks that actor may read the log f selects and narrows an
// unscoped filter to the actor's area (an auditor of Kenema asking for the
// nation gets Kenema). It also checks the filter's own fields.
func (a *Audit) Scope(ctx context.Context, actor Actor, f LogFilter) (LogFilter, error) {
	if err := requireAuditor(actor); err != nil {
		return f, err
	}
	pl := a.places
	if pl == nil {
		pl = places.Default()
	}
	var err error
	if f.Area, err = pl.ResolveArea(f.Area.District, f.Area.Chiefdom); err != nil {
		return f, err
	}
	if f.Basis, err = ParseBasis("basis", f.Basis, BasisOccurred); err != nil {
		return f, err
	}
	for _, t := range f.Types {
		if !slices.Contains(domain.EventTypes(), t) {
			return f, domain.FieldError("type", "%q is not an event type (one of %s)", t, strings.Join(domain.EventTypes(), ", "))
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, domain.FieldError("to", "must be after from")
	}
	var place *domain.Place
	if f.CommunityID != "" {
		l := located{}
		if domain.ValidateID("community_id", f.CommunityID) == nil {
			if l, err = newPlacer(a.store).ofStream(ctx, domain.CommunityStream(f.CommunityID)); err != nil {
				return f, err
			}
		}
		if !l.ok {
			return f, &domain.Error{Code: domain.CodeNotFound, Field: "community_id", Message: "no community " + f.CommunityID}
		}
		place = &l.place
	}
	if f.Area, err = ReadScope(actor, f.Area, place, domain.RoleAuditor); err != nil {
		return f, err
	}
	return f, nil
}

// scanPage is how many events a scan reads at once.
const scanPage = 1024

// ScanOptions bound a scan.
type ScanOptions struct {
	// After is the position to start after; Until the last position to look
	// at (0: the head when the scan starts).
	After, Until uint64
	// Budget is how many events the scan may look at (0: no limit).
	Budget int
	// Locate fills in every event's place even when the filter does not
	// need it (a report that groups by community does).
	Locate bool
}

// Scan calls visit for every event that f selects, in log order. f must come
// from Scope. Each event is decoded (and located when the filter or opts ask)
// before visit sees it; visit returns false to stop early. The scan holds one
// page at a time, whatever the length of the log.
//
// Scan returns the position of the last event it looked at and whether it
// reached the end of what f can select.
func (a *Audit) Scan(ctx context.Context, f LogFilter, opts ScanOptions, visit func(*AuditedEvent) (bool, error)) (last uint64, end bool, err error) {
	after, until := opts.After, opts.Until
	if until == 0 {
		if until, err = a.store.Head(ctx); err != nil {
			return after, false, err
		}
	}
	if f.Basis == BasisRecorded && !f.From.IsZero() {
		// recorded_at never decreases along the log: skip to the first
		// event recorded at or after From.
		start, err := a.firstRecordedFrom(ctx, f.From, until)
		if err != nil {
			return after, false, err
		}
		after = max(after, start)
	}
	locate := opts.Locate || f.placeMatters()
	places := newPlacer(a.store)
	last = after
	looked := 0
	for last < until {
		n := scanPage
		if opts.Budget > 0 {
			if looked >= opts.Budget {
				return last, false, nil
			}
			n = min(n, opts.Budget-looked)
		}
		recs, err := a.store.ReadAll(ctx, last, n)
		if err != nil {
			return last, false, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			rec := &recs[i]
			if rec.Position > until {
				return last, true, nil
			}
			if f.Basis == BasisRecorded && !f.To.IsZero() && !rec.RecordedAt.Before(f.To) {
				return last, true, nil
			}
			last = rec.Position
			looked++
			if !f.envelopeMatches(rec) {
				continue
			}
			e := decodeForAudit(*rec)
			if locate {
				if err := places.locate(ctx, &e); err != nil {
					return last, false, err
				}
				if !f.placeMatches(&e) {
					continue
				}
			}
			more, err := visit(&e)
			if err != nil {
				return last, false, err
			}
			if !more {
				return last, last >= until, nil
			}
		}
	}
	return last, true, nil
}

// firstRecordedFrom returns the position after which every event was
// recorded at or after t, by bisecting the log (positions need not be
// contiguous: each probe reads the first event after a position).
func (a *Audit) firstRecordedFrom(ctx context.Context, t time.Time, head uint64) (uint64, error) {
	lo, hi := uint64(0), head // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		recs, err := a.store.ReadAll(ctx, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(recs) == 0 || !recs[0].RecordedAt.Before(t) {
			hi = mid
		} else {
			lo = recs[0].Position
		}
	}
	return lo, nil
}

// EventPage is one page of the global log.
type EventPage struct {
	Events []EventView
	// Next is the position to continue after; 0 when the log (as far as the
	// filter can select) is exhausted.
	Next uint64
	// Scanned is the position of the last event looked at.
	Scanned uint64
}

// eventScanBudget bounds the events one page request looks at, so that a
// filter that selects little answers in bounded time: the page then holds
// fewer events than asked (maybe none) and Next says where to go on.
const eventScanBudget = 200_000

// Events returns up to limit events of the log after position `after` that f
// selects.
func (a *Audit) Events(ctx context.Context, actor Actor, f LogFilter, after uint64, limit int) (EventPage, error) {
	f, err := a.Scope(ctx, actor, f)
	if err != nil {
		return EventPage{}, err
	}
	page := EventPage{Events: []EventView{}}
	last, end, err := a.Scan(ctx, f, ScanOptions{After: after, Budget: eventScanBudget}, func(e *AuditedEvent) (bool, error) {
		page.Events = append(page.Events, e.View())
		return len(page.Events) < limit, nil
	})
	if err != nil {
		return EventPage{}, err
	}
	page.Scanned = last
	if !end {
		page.Next = last
	}
	return page, nil
}

// ---------------------------------------------------------------------------
// One stream

// StreamEvents returns up to limit events of one stream after revision
// `after`, and the revision to continue after (0: none left). Aggregate
// streams are readable within the actor's area; the user directory and the
// export log only by national auditors. A stream with no events — one that
// never existed too — reads as empty, as the event store reads it.
func (a *Audit) StreamEvents(ctx context.Context, actor Actor, stream string, after uint64, limit int) ([]EventView, uint64, error) {
	if err := requireAuditor(actor); err != nil {
		return nil, 0, err
	}
	category, _ := domain.SplitStream(stream)
	switch {
	case stream == domain.UsersStream || stream == domain.ExportsStream:
		if !actor.Area.IsNational() {
			return nil, 0, domain.Errorf(domain.CodeForbidden, "only a national auditor may read %s", stream)
		}
	case slices.Contains(aggregateCategories, category) && !actor.Area.IsNational():
		l, err := newPlacer(a.store).ofStream(ctx, stream)
		if err != nil {
			return nil, 0, err
		}
		if l.ok {
			if err := requireArea(actor, l.place); err != nil {
				return nil, 0, err
			}
		}
	}
	recs, err := a.store.ReadStream(ctx, stream, after, limit+1)
	if err != nil {
		return nil, 0, err
	}
	var next uint64
	if len(recs) > limit {
		recs = recs[:limit]
		next = recs[limit-1].Revision
	}
	out := make([]EventView, len(recs))
	for i := range recs {
		e := decodeForAudit(recs[i])
		out[i] = e.View()
	}
	return out, next, nil
}

// ---------------------------------------------------------------------------
// Aggregates as they stood

// AsOfMeta says what an as-of view was folded from.
type AsOfMeta struct {
	Stream string
	At     time.Time
	Basis  string
	// Revision and Position are those of the last event folded in; Events
	// is how many were (on the occurred basis a late report can leave a gap).
	Revision uint64
	Position uint64
	Events   int
}

// asOf loads stream and folds only the events the basis selects at `at`:
// recorded by then (a prefix of the stream) or occurred by then (which may
// skip a late-synced report that happened later than the events after it).
func asOf[A placed](ctx context.Context, a *Audit, actor Actor, what, id, stream string, at time.Time, basis string,
	load func([]domain.Event) (A, error)) (A, AsOfMeta, error) {
	var zero A
	if err := requireAuditor(actor); err != nil {
		return zero, AsOfMeta{}, err
	}
	basis, err := ParseBasis("basis", basis, BasisRecorded)
	if err != nil {
		return zero, AsOfMeta{}, err
	}
	if at.IsZero() {
		return zero, AsOfMeta{}, domain.FieldError("at", "is required (an RFC 3339 time)")
	}
	if domain.ValidateID("id", id) != nil {
		return zero, AsOfMeta{}, notFound(what, id)
	}
	recorded, err := readStream(ctx, a.store, stream)
	if err != nil {
		return zero, AsOfMeta{}, err
	}
	history, err := decodeAll(recorded)
	if err != nil {
		return zero, AsOfMeta{}, err
	}
	now, err := load(history)
	if err != nil {
		return zero, AsOfMeta{}, err
	}
	if !now.Exists() {
		return zero, AsOfMeta{}, notFound(what, id)
	}
	if err := requireArea(actor, now.Place()); err != nil {
		return zero, AsOfMeta{}, err
	}
	meta := AsOfMeta{Stream: stream, At: at.UTC(), Basis: basis}
	var selected []domain.Event
	for i := range recorded {
		t := recorded[i].RecordedAt
		if basis == BasisOccurred {
			t = recorded[i].Meta.OccurredAt
		}
		if t.After(at) {
			continue
		}
		selected = append(selected, history[i])
		meta.Revision, meta.Position, meta.Events = recorded[i].Revision, recorded[i].Position, meta.Events+1
	}
	then, err := load(selected)
	if err != nil {
		return zero, AsOfMeta{}, err
	}
	if !then.Exists() {
		return zero, AsOfMeta{}, domain.Errorf(domain.CodeNotFound, "%s %q did not exist as of %s (%s basis)",
			what, id, at.UTC().Format(time.RFC3339), basis)
	}
	return then, meta, nil
}

// CommunityAsOf returns a community's state as it stood at `at`.
func (a *Audit) CommunityAsOf(ctx context.Context, actor Actor, id string, at time.Time, basis string) (domain.CommunityView, AsOfMeta, error) {
	c, meta, err := asOf(ctx, a, actor, "community", id, domain.CommunityStream(id), at, basis, domain.LoadCommunity)
	if err != nil {
		return domain.CommunityView{}, meta, err
	}
	v := c.View()
	v.Revision = meta.Revision
	return v, meta, nil
}

// ActionPointAsOf returns an action point's state as it stood at `at`.
func (a *Audit) ActionPointAsOf(ctx context.Context, actor Actor, id string, at time.Time, basis string) (domain.ActionPointView, AsOfMeta, error) {
	ap, meta, err := asOf(ctx, a, actor, "action point", id, domain.ActionPointStream(id), at, basis, domain.LoadActionPoint)
	if err != nil {
		return domain.ActionPointView{}, meta, err
	}
	v := ap.View()
	v.Revision = meta.Revision
	return v, meta, nil
}

// ReferralAsOf returns a referral's state as it stood at `at`.
func (a *Audit) ReferralAsOf(ctx context.Context, actor Actor, id string, at time.Time, basis string) (domain.ReferralView, AsOfMeta, error) {
	r, meta, err := asOf(ctx, a, actor, "referral", id, domain.ReferralStream(id), at, basis, domain.LoadReferral)
	if err != nil {
		return domain.ReferralView{}, meta, err
	}
	v := r.View()
	v.Revision = meta.Revision
	return v, meta, nil
}

// FeedbackAsOf returns a feedback item's state as it stood at `at`.
func (a *Audit) FeedbackAsOf(ctx context.Context, actor Actor, id string, at time.Time, basis string) (domain.FeedbackView, AsOfMeta, error) {
	f, meta, err := asOf(ctx, a, actor, "feedback item", id, domain.FeedbackStream(id), at, basis, domain.LoadFeedbackItem)
	if err != nil {
		return domain.FeedbackView{}, meta, err
	}
	v := f.View()
	v.Revision = meta.Revision
	return v, meta, nil
}

// AggregateAsOf returns the state of the aggregate whose stream is stream
// (community-, actionpoint-, referral- or feedback-<id>) as it stood at `at`:
// the view its own read route answers, and what it was folded from.
func (a *Audit) AggregateAsOf(ctx context.Context, actor Actor, stream string, at time.Time, basis string) (any, AsOfMeta, error) {
	if err := requireAuditor(actor); err != nil {
		return nil, AsOfMeta{}, err
	}
	category, id := domain.SplitStream(stream)
	switch category {
	case domain.CommunityCategory:
		return view(a.CommunityAsOf(ctx, actor, id, at, basis))
	case domain.ActionPointCategory:
		return view(a.ActionPointAsOf(ctx, actor, id, at, basis))
	case domain.ReferralCategory:
		return view(a.ReferralAsOf(ctx, actor, id, at, basis))
	case domain.FeedbackCategory:
		return view(a.FeedbackAsOf(ctx, actor, id, at, basis))
	}
	return nil, AsOfMeta{}, domain.FieldError("stream", "must be an aggregate's stream: community-, actionpoint-, referral- or feedback-<id>")
}

func view[V any](v V, meta AsOfMeta, err error) (any, AsOfMeta, error) {
	if err != nil {
		return nil, meta, err
	}
	return v, meta, nil
}

// ---------------------------------------------------------------------------
// Verification and provenance

// VerifyView is the outcome of verifying the hash chain, for auditors.
type VerifyView struct {
	Intact bool `json:"intact"`
	// Count events from the first form an intact chain, ending at
	// HeadPosition with HeadHash: keep the head hash, and a later
	// verification shows whether anything up to it changed.
	Count        uint64 `json:"count"`
	HeadPosition uint64 `json:"head_position"`
	HeadHash     string `json:"head_hash"`
	BrokenAt     uint64 `json:"broken_at,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Unchained: the store keeps no hash chain (KurrentDB), so there is
	// nothing to verify here — not damage.
	Unchained bool  `json:"unchained,omitempty"`
	TookMS    int64 `json:"took_ms"`
}

// NewVerifyView turns a chain report into its view.
func NewVerifyView(r eventstore.ChainReport, took time.Duration) VerifyView {
	return VerifyView{Intact: r.Intact(), Count: r.Count, HeadPosition: r.HeadPosition, HeadHash: hex.EncodeToString(r.HeadHash[:]),
		BrokenAt: r.BrokenAt, Reason: r.Reason, Unchained: r.Unchained, TookMS: took.Milliseconds()}
}

// Verify walks the hash chain of the whole log (see eventstore.VerifyChain).
// A broken chain is an answer, not an error.
func (a *Audit) Verify(ctx context.Context, actor Actor) (VerifyView, error) {
	if err := requireAuditor(actor); err != nil {
		return VerifyView{}, err
	}
	start := time.Now()
	r, err := eventstore.VerifyChain(ctx, a.store)
	if err != nil {
		return VerifyView{}, err
	}
	return NewVerifyView(r, time.Since(start)), nil
}

// EventAt returns the event at a position, e.g. an export's own record for
// its hash.
func (a *Audit) EventAt(ctx context.Context, position uint64) (AuditedEvent, error) {
	if position == 0 {
		return AuditedEvent{}, domain.Errorf(domain.CodeNotFound, "no event at position 0")
	}
	recs, err := a.store.ReadAll(ctx, position-1, 1)
	if err != nil {
		return AuditedEvent{}, err
	}
	if len(recs) == 0 || recs[0].Position != position {
		return AuditedEvent{}, domain.Errorf(domain.CodeNotFound, "no event at position %d", position)
	}
	return decodeForAudit(recs[0]), nil
}
