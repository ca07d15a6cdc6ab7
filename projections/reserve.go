package projections

import (
	"context"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
)

// reserver is a read model that sizes its rows and their maps before a
// replay of the log from its start, from the store's streams by category
// (eventstore.StreamCounter). Grown a row at a time, the largest slices were
// copied over and over (Go grows a large slice by a quarter): growing them
// was 17% of a clea rebuild's CPU, and left several times their size in
// garbage (rebuilds of clea alternated three times: 292,048-311,532 events/s
// before, 329,526-350,173 after). Reserve changes capacity only: a model
// reserved for the wrong counts answers the same.
type reserver interface{ Reserve(streams map[string]int) }

// reserve sizes models that are reservers, when the store can count its
// streams; the counts are a hint, so an error only goes without them.
func reserve(ctx context.Context, store eventstore.Store, models []Model) {
	sc, ok := store.(eventstore.StreamCounter)
	if !ok {
		return
	}
	counts, err := sc.StreamCounts(ctx)
	if err != nil {
		return
	}
	for _, m := range models {
		if r, ok := m.(reserver); ok {
			r.Reserve(counts)
		}
	}
}

// reserveRows gives rows room for n and byID n entries, when both are
// empty.
func reserveRows[T any](rows *[]T, byID *map[string]int32, n int) {
	if n <= 0 || len(*rows) > 0 || len(*byID) > 0 {
		return
	}
	*rows = make([]T, 0, n)
	*byID = make(map[string]int32, n)
}

// Reserve implements reserver: a row per community, action point, referral
// and feedback item.
func (m *Lists) Reserve(streams map[string]int) {
	reserveRows(&m.comms, &m.commByID, streams[domain.CommunityCategory])
	reserveRows(&m.aps, &m.apByID, streams[domain.ActionPointCategory])
	reserveRows(&m.refs, &m.refByID, streams[domain.ReferralCategory])
	reserveRows(&m.fbs, &m.fbByID, streams[domain.FeedbackCategory])
}

// Reserve implements reserver: a record per action point.
func (m *Completion) Reserve(streams map[string]int) {
	reserveRows(&m.recs, &m.byID, streams[domain.ActionPointCategory])
}

// Reserve implements reserver: a record per referral.
func (m *Referrals) Reserve(streams map[string]int) {
	reserveRows(&m.recs, &m.byID, streams[domain.ReferralCategory])
}

// Reserve implements reserver: a record per feedback item.
func (m *Feedback) Reserve(streams map[string]int) {
	reserveRows(&m.recs, &m.byID, streams[domain.FeedbackCategory])
}

// Reserve implements reserver: a record per community, and an entry per
// feedback item in the map from items to their communities.
func (m *Trust) Reserve(streams map[string]int) {
	reserveRows(&m.comms, &m.byID, streams[domain.CommunityCategory])
	if n := streams[domain.FeedbackCategory]; n > 0 && len(m.fbByID) == 0 {
		m.fbByID = make(map[string][2]int32, n)
	}
}
