// Package app is actionledger's application layer: one handler per command,
// each loading its aggregate from the event store, letting the domain decide,
// and appending the result with the revision it loaded.
//
// Handlers share one write path (update, in writer.go) that gives every
// command the same guarantees: idempotent replay of a request that carries an
// Idempotency-Key, If-Match as an exact expected revision, and a bounded
// retry of the decision when another writer got in first and the client did
// not pin a revision. Logging and metrics are decorators added by the New…
// constructors, so the handlers themselves are only the decision.
package app

import (
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/places"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config wires an Application.
type Config struct {
	Store eventstore.Store
	// Clock gives server time; occurred_at defaults to it and may not be more
	// than MaxFutureSkew ahead of it.
	Clock func() time.Time
	// AdminTokenHash is the SHA-256 of the admin's bearer token.
	AdminTokenHash []byte
	// TokenSecret keys the derivation of user tokens from idempotency keys,
	// so a replayed user creation can answer the same token it first did.
	TokenSecret []byte
	Logger      *zap.Logger
	Registerer  prometheus.Registerer
	// Refusals keeps users' refused writes, beside the log (nil: not kept).
	Refusals RefusalLog
	// Places is the list every place named in a write or a read filter is
	// checked against; nil is Sierra Leone's (places.Default).
	Places *places.Catalogue
}

// MaxFutureSkew is how far ahead of server time a client's occurred_at may be
// (clocks on phones drift; a report from the future is a typo).
const MaxFutureSkew = 5 * time.Minute

// Application holds every command handler and query of actionledger.
type Application struct {
	Auth *Authenticator
	// Places is the districts and chiefdoms places are checked against.
	Places *places.Catalogue

	CreateUser     Handler[CreateUser]
	DeactivateUser Handler[DeactivateUser]
	IssueToken     Handler[IssueToken]

	RegisterCommunity Handler[RegisterCommunity]
	TriggerCommunity  Handler[TriggerCommunity]
	RecordVisit       Handler[RecordVisit]

	RaiseActionPoint   Handler[RaiseActionPoint]
	StartActionPoint   Handler[StartActionPoint]
	NoteProgress       Handler[NoteProgress]
	AchieveActionPoint Handler[AchieveActionPoint]
	DropActionPoint    Handler[DropActionPoint]
	ReopenActionPoint  Handler[ReopenActionPoint]

	RaiseReferral       Handler[RaiseReferral]
	AcknowledgeReferral Handler[AcknowledgeReferral]
	CompleteReferral    Handler[CompleteReferral]
	CloseReferral       Handler[CloseReferral]
	CancelReferral      Handler[CancelReferral]

	ReceiveFeedback   Handler[ReceiveFeedback]
	ReferFeedback     Handler[ReferFeedback]
	AnswerFeedback    Handler[AnswerFeedback]
	CloseFeedbackLoop Handler[CloseFeedbackLoop]

	Queries *Queries
	// Reads answers the indicators and work lists from the read models. New
	// leaves it nil: the read models start after the application (the
	// demo loads through it first), and whoever runs them sets it
	// (NewReads).
	Reads *Reads
	// Audit is the auditor's side: history, as-of views, verification and
	// the record of exports.
	Audit *Audit
	// Rebuilds runs read-model rebuilds in the background for admins; set,
	// as Reads is, by whoever runs the read models (NewRebuilds).
	Rebuilds *Rebuilds
	// Activity is each user's work as the users list shows it. Its Reads
	// are set by whoever runs the read models, as Reads is.
	Activity *Activity
}

// New builds the application. Metrics are registered on cfg.Registerer.
func New(cfg Config) (*Application, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Places == nil {
		cfg.Places = places.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w := NewWriter(cfg.Store, cfg.Clock, m)
	d := Decorators{Log: cfg.Logger, Metrics: m}
	if l, ok := cfg.Store.(eventstore.EventLocator); ok {
		d.Locator = l
	}
	auth := newAuthenticator(cfg.Store, cfg.AdminTokenHash, cfg.Logger)
	return &Application{
		Auth:   auth,
		Places: cfg.Places,

		CreateUser:     NewCreateUserHandler(w, auth, cfg.TokenSecret, cfg.Places, d),
		DeactivateUser: NewDeactivateUserHandler(w, auth, d),
		IssueToken:     NewIssueTokenHandler(w, auth, cfg.TokenSecret, d),

		RegisterCommunity: NewRegisterCommunityHandler(w, cfg.Places, d),
		TriggerCommunity:  NewTriggerCommunityHandler(w, d),
		RecordVisit:       NewRecordVisitHandler(w, d),

		RaiseActionPoint:   NewRaiseActionPointHandler(w, d),
		StartActionPoint:   NewStartActionPointHandler(w, d),
		NoteProgress:       NewNoteProgressHandler(w, d),
		AchieveActionPoint: NewAchieveActionPointHandler(w, d),
		DropActionPoint:    NewDropActionPointHandler(w, d),
		ReopenActionPoint:  NewReopenActionPointHandler(w, d),

		RaiseReferral:       NewRaiseReferralHandler(w, d),
		AcknowledgeReferral: NewAcknowledgeReferralHandler(w, d),
		CompleteReferral:    NewCompleteReferralHandler(w, d),
		CloseReferral:       NewCloseReferralHandler(w, d),
		CancelReferral:      NewCancelReferralHandler(w, d),

		ReceiveFeedback:   NewReceiveFeedbackHandler(w, d),
		ReferFeedback:     NewReferFeedbackHandler(w, d),
		AnswerFeedback:    NewAnswerFeedbackHandler(w, d),
		CloseFeedbackLoop: NewCloseFeedbackLoopHandler(w, d),

		Queries:  NewQueries(cfg.Store),
		Audit:    &Audit{store: cfg.Store, places: cfg.Places, RecordExport: NewRecordExportHandler(w, d)},
		Activity: &Activity{Refusals: cfg.Refusals, Clock: cfg.Clock},
	}, nil
}
