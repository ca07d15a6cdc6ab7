package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
	"github.com/google/uuid"
)

// The property: Engine.AsOf, which answers from the live models, answers
// exactly what the replay of the selected events into fresh models answers
// (AsOfReplay, the implementation it replaced), for any history, cut and
// filter.

// propHistory writes a random history into a real store. It goes beyond
// what the command side writes where the read models must still agree:
// transitions in any order and repeated (a referral completed twice, a loop
// closed twice, an action point reopened), transitions of records never
// created, visits, feedback and suspected cases of communities registered
// later in the log or never (the trust model creates a community from an
// item or a case), field times back-dated by days (late syncs) and out of
// order within an aggregate, several events per append (one recorded_at),
// server-clock steps of zero, seconds (within the recorded basis' slack),
// minutes and days, and Watermill messages in the log. It keeps the two
// invariants the domain guarantees and AsOf relies on: one creating event
// per record id, and every event naming a community carries its one place.
type propHistory struct {
	t     testing.TB
	r     *rand.Rand
	store eventstore.Store
	now   time.Time // the server clock
	comms []propComm
	mu    *sync.Mutex // guards now, which a store may read from its own goroutines
	aps   []string
	refs  []string
	fbs   []string
	n     int
}

type propComm struct {
	id         string
	place      domain.Place
	registered bool
}

var propPlaces = []domain.Place{
	{District: "Kenema", Chiefdom: "Nongowa", Section: "S1"},
	{District: "Kenema", Chiefdom: "Dama", Section: "S1"},
	{District: "Bo", Chiefdom: "Kakua", Section: "S2"},
	{District: "Kailahun", Chiefdom: "Luawa", Section: "S3"},
}

func newPropHistory(t testing.TB, seed uint64, dir string) *propHistory {
	t.Helper()
	return newPropHistoryOn(t, seed, func(clock func() time.Time) eventstore.Store {
		s, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// newPropHistoryOn writes into the store open returns, which stamps
// recorded_at with the clock it is given.
func newPropHistoryOn(t testing.TB, seed uint64, open func(clock func() time.Time) eventstore.Store) *propHistory {
	t.Helper()
	h := &propHistory{t: t, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: t0}
	var mu sync.Mutex
	h.store = open(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return h.now
	})
	t.Cleanup(func() { h.store.Close() })
	h.mu = &mu
	for i := range 10 {
		h.comms = append(h.comms, propComm{id: fmt.Sprintf("C%02d", i), place: propPlaces[h.r.IntN(len(propPlaces))]})
	}
	return h
}

// tick moves the server clock on before an append.
func (h *propHistory) tick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch x := h.r.IntN(100); {
	case x < 35: // same recorded_at as the event before
	case x < 65:
		h.now = h.now.Add(time.Duration(1+h.r.IntN(50)) * time.Second)
	case x < 85:
		h.now = h.now.Add(time.Duration(1+h.r.IntN(180)) * time.Minute)
	default:
		h.now = h.now.Add(time.Duration(1+h.r.IntN(4)) * 24 * time.Hour)
	}
}

// field is a field time: mostly shortly before the server's time, some
// synced days late, a few back-dated past everything else.
func (h *propHistory) field() time.Time {
	switch x := h.r.IntN(100); {
	case x < 60:
		return h.now.Add(-time.Duration(h.r.IntN(180)) * time.Minute)
	case x < 90:
		return h.now.Add(-time.Duration(1+h.r.IntN(20*24)) * time.Hour)
	default:
		return h.now.Add(-time.Duration(20+h.r.IntN(40)) * 24 * time.Hour)
	}
}

func (h *propHistory) write(stream string, events ...eventstore.EventData) {
	h.t.Helper()
	h.tick()
	if _, err := h.store.Append(context.Background(), stream, eventstore.Any, events...); err != nil {
		h.t.Fatal(err)
	}
	h.n += len(events)
}

func (h *propHistory) ev(e domain.Event, at time.Time) eventstore.EventData {
	typ, data := domain.Marshal(e)
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Meta: eventstore.Metadata{OccurredAt: at}}
}

func (h *propHistory) pick(ids []string) string {
	if len(ids) == 0 || h.r.IntN(20) == 0 {
		return fmt.Sprintf("X%d", h.r.IntN(3)) // a record never created
	}
	return ids[h.r.IntN(len(ids))]
}

func (h *propHistory) community() *propComm { return &h.comms[h.r.IntN(len(h.comms))] }

// step appends one random write.
func (h *propHistory) step() {
	r := h.r
	c := h.community()
	switch x := r.IntN(100); {
	case x < 6: // registration (once per community)
		if c.registered {
			h.write(domain.CommunityStream(c.id), h.ev(&domain.CommunityTriggered{Attendance: 50}, h.field()))
			return
		}
		c.registered = true
		evs := []eventstore.EventData{h.ev(&domain.CommunityRegistered{ID: c.id, Name: "Village " + c.id, Place: c.place, Population: 500}, h.field())}
		if r.IntN(2) == 0 {
			evs = append(evs, h.ev(&domain.CommunityTriggered{Attendance: 80}, h.field()))
		}
		h.write(domain.CommunityStream(c.id), evs...)
	case x < 26: // visits, also of communities not (yet) registered
		evs := []eventstore.EventData{h.ev(&domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + r.IntN(5)}, h.field())}
		if r.IntN(4) == 0 {
			evs = append(evs, h.ev(&domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + r.IntN(5)}, h.field()))
		}
		h.write(domain.CommunityStream(c.id), evs...)
	case x < 36: // an action point
		id := fmt.Sprintf("AP%d", len(h.aps))
		h.aps = append(h.aps, id)
		due := domain.Date("")
		if r.IntN(3) > 0 {
			due = domain.Date(h.now.AddDate(0, 0, r.IntN(40)-10).Format(time.DateOnly))
		}
		h.write(domain.ActionPointStream(id), h.ev(&domain.ActionPointRaised{ID: id, CommunityID: c.id, Place: c.place, Title: "t",
			Category: domain.Categories[r.IntN(3)], Kind: []string{"one_off", "continuous"}[r.IntN(2)], DueDate: due}, h.field()))
	case x < 50: // an action point moves, in any order
		var e domain.Event
		switch r.IntN(5) {
		case 0:
			e = &domain.ActionPointStarted{Note: "n"}
		case 1:
			e = &domain.ActionPointProgressNoted{Note: "n"}
		case 2:
			e = &domain.ActionPointAchieved{Evidence: "e"}
		case 3:
			e = &domain.ActionPointDropped{Reason: "r"}
		default:
			e = &domain.ActionPointReopened{Reason: "r"}
		}
		h.write(domain.ActionPointStream(h.pick(h.aps)), h.ev(e, h.field()))
	case x < 58: // a referral
		id := fmt.Sprintf("R%d", len(h.refs))
		h.refs = append(h.refs, id)
		at := h.field()
		kind := domain.ReferralKinds[r.IntN(3)]
		var onset time.Time
		if kind == "suspected_case" && r.IntN(5) > 0 {
			onset = at.Add(-time.Duration(r.IntN(60)) * time.Hour)
		}
		evs := []eventstore.EventData{h.ev(&domain.ReferralRaised{ID: id, CommunityID: c.id, Place: c.place, Kind: kind, Channel: "mobilizer",
			PersonRef: "P", SymptomOnset: onset, RaisedAt: at}, at)}
		if r.IntN(3) == 0 {
			evs = append(evs, h.ev(&domain.ReferralAcknowledged{}, h.field()))
		}
		h.write(domain.ReferralStream(id), evs...)
	case x < 70: // a referral moves, in any order, completed any number of times
		var e domain.Event
		at := h.field()
		switch r.IntN(4) {
		case 0:
			e = &domain.ReferralAcknowledged{}
		case 1:
			e = &domain.ReferralCompleted{ArrivedAt: at.Add(-time.Duration(r.IntN(90)) * time.Hour), Outcome: domain.Outcomes[r.IntN(len(domain.Outcomes))]}
		case 2:
			e = &domain.ReferralClosed{}
		default:
			e = &domain.ReferralCancelled{Reason: "r"}
		}
		h.write(domain.ReferralStream(h.pick(h.refs)), h.ev(e, at))
	case x < 80: // a feedback item
		id := fmt.Sprintf("F%d", len(h.fbs))
		h.fbs = append(h.fbs, id)
		at := h.field()
		need := ""
		if r.IntN(3) > 0 {
			need = domain.Needs[r.IntN(len(domain.Needs))]
		}
		h.write(domain.FeedbackStream(id), h.ev(&domain.FeedbackReceived{ID: id, CommunityID: c.id, Place: c.place,
			Type: domain.FeedbackTypes[r.IntN(len(domain.FeedbackTypes))], Text: "x", NeedCategory: need, Channel: "mobilizer", ReceivedAt: at}, at))
	case x < 94: // an item moves, in any order, its loop closed any number of times
		var e domain.Event
		at := h.field()
		switch r.IntN(3) {
		case 0:
			e = &domain.FeedbackReferred{To: "DHMT"}
		case 1:
			e = &domain.FeedbackAnswered{Response: "a"}
		default:
			e = &domain.FeedbackLoopClosed{CommunicatedAt: at.Add(-time.Duration(r.IntN(30*24)) * time.Hour), Satisfied: r.IntN(2) == 0}
		}
		h.write(domain.FeedbackStream(h.pick(h.fbs)), h.ev(e, at))
	default: // something no read model reads: a Watermill message
		h.write("watermill-topic", eventstore.EventData{ID: uuid.New(), Type: pubsub.MessageEventType, Data: []byte(`{}`),
			Meta: eventstore.Metadata{OccurredAt: h.field()}})
	}
}

// propCuts picks times to ask about on each basis: the recorded_at and
// occurred_at of random events exactly, a nanosecond either side, within
// and just past the recorded basis' minute of slack, random times, and
// before and after everything.
func propCuts(t testing.TB, r *rand.Rand, store eventstore.Store, n int) (recorded, occurred []time.Time) {
	t.Helper()
	all, err := store.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	first, last := all[0], all[len(all)-1]
	recorded = []time.Time{first.RecordedAt.Add(-time.Hour), first.RecordedAt, last.RecordedAt, last.RecordedAt.Add(time.Hour)}
	occurred = []time.Time{t0.AddDate(0, -6, 0), t0.AddDate(1, 0, 0)}
	offsets := []time.Duration{0, -1, 1, 30 * time.Second, -30 * time.Second, 61 * time.Second, -61 * time.Second}
	// Around the as-of clock's samples (every 256th event), where a cut
	// starts reading the log.
	for i := 0; i < len(all); i += 256 {
		for _, d := range offsets {
			recorded = append(recorded, all[i].RecordedAt.Add(d))
		}
	}
	for range n {
		ev := all[r.IntN(len(all))]
		d := offsets[r.IntN(len(offsets))]
		recorded = append(recorded, ev.RecordedAt.Add(d))
		occurred = append(occurred, ev.Meta.OccurredAt.Add(d))
		span := last.RecordedAt.Sub(first.RecordedAt)
		if span > 0 {
			recorded = append(recorded, first.RecordedAt.Add(time.Duration(r.Int64N(int64(span)))))
			occurred = append(occurred, first.RecordedAt.Add(time.Duration(r.Int64N(int64(span)))-30*24*time.Hour))
		}
	}
	return recorded, occurred
}

var propFilters = []projections.Filter{
	{},
	{District: " kenema "},
	{District: "Kenema", Chiefdom: "NONGOWA"},
	{District: "Bo", Chiefdom: "Kakua"},
	{CommunityID: "C03"},
	{CommunityID: "C07"},
	{District: "Kenema", Category: domain.Categories[1]},
	{From: t0.AddDate(0, 0, 14), To: t0.AddDate(0, 0, 70)},
}

// checkAsOf asks eng every filter at every time on basis, and compares with
// the replay.
func checkAsOf(t *testing.T, eng *projections.Engine, basis string, times []time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, at := range times {
		want, err := eng.AsOfReplay(ctx, at, basis, propFilters...)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range propFilters {
			got, err := eng.AsOf(ctx, at, basis, f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("%s as of %s, filter %+v:\n%s", basis, at.Format(time.RFC3339Nano), f, asOfDiff(got, want[i]))
			}
		}
	}
}

// asOfDiff names the parts of two answers that differ.
func asOfDiff(got, want projections.AsOf) string {
	var out string
	for _, part := range []struct {
		name      string
		got, want any
	}{
		{"position", got.Position, want.Position}, {"completion", got.Completion, want.Completion},
		{"referrals", got.Referrals, want.Referrals}, {"feedback", got.Feedback, want.Feedback}, {"trust", got.Trust, want.Trust},
	} {
		if !reflect.DeepEqual(part.got, part.want) {
			g, _ := json.Marshal(part.got)
			w, _ := json.Marshal(part.want)
			out += fmt.Sprintf("%s:\n  as-of  %s\n  replay %s\n", part.name, g, w)
		}
	}
	return out
}

func TestAsOfMatchesTheReplayOnRandomHistories(t *testing.T) {
	histories, steps, cuts := 16, 700, 14
	if testing.Short() {
		histories, steps, cuts = 4, 400, 6
	}
	for seed := range uint64(histories) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			h := newPropHistory(t, seed, dir)
			n := steps/2 + h.r.IntN(steps)
			for range n {
				h.step()
			}
			eng, err := projections.Open(context.Background(), projections.Config{Store: h.store, Path: filepath.Join(dir, "p.db")})
			if err != nil {
				t.Fatal(err)
			}
			if seed%2 == 1 {
				// Live models fed by the router (and the clock by them);
				// the even seeds answer from an engine that never ran, so
				// the first question catches the models up.
				run(t, eng)
				head, _ := h.store.Head(context.Background())
				waitFor(t, eng, head)
			} else {
				t.Cleanup(func() { eng.Close() })
			}
			recorded, occurred := propCuts(t, h.r, h.store, cuts)
			checkAsOf(t, eng, projections.BasisRecorded, recorded)
			checkAsOf(t, eng, projections.BasisOccurred, occurred)
		})
	}
}

// With the router running and the history growing between questions, the
// answers (and the clock the live path keeps) still agree with the replay.
func TestAsOfMatchesTheReplayWhileTheLogGrows(t *testing.T) {
	dir := t.TempDir()
	h := newPropHistory(t, 99, dir)
	eng, err := projections.Open(context.Background(), projections.Config{Store: h.store, Path: filepath.Join(dir, "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	run(t, eng)
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for round := range rounds {
		for range 60 + h.r.IntN(120) {
			h.step()
		}
		if round%2 == 0 {
			head, _ := h.store.Head(context.Background())
			waitFor(t, eng, head)
		} // else the router may still be applying: AsOf catches up itself
		recorded, occurred := propCuts(t, h.r, h.store, 3)
		checkAsOf(t, eng, projections.BasisRecorded, append(recorded, h.now))
		checkAsOf(t, eng, projections.BasisOccurred, append(occurred, h.now))
	}
	if samples, covered := eng.ClockSamples(); samples == 0 || covered == 0 {
		t.Fatalf("the as-of clock holds %d samples up to %d", samples, covered)
	}
}

// The clock is saved with the snapshots: after a restart it covers the log
// before any question, and answers still agree.
func TestAsOfAfterARestart(t *testing.T) {
	dir := t.TempDir()
	h := newPropHistory(t, 7, dir)
	for range 3000 {
		h.step()
	}
	cfg := projections.Config{Store: h.store, Path: filepath.Join(dir, "p.db")}
	eng, err := projections.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, eng)
	head, _ := h.store.Head(context.Background())
	waitFor(t, eng, head)
	stop()
	eng, err = projections.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if samples, covered := eng.ClockSamples(); covered != head || samples != (h.n+255)/256 {
		t.Fatalf("after a restart the clock has %d samples up to %d; want %d up to %d", samples, covered, (h.n+255)/256, head)
	}
	recorded, occurred := propCuts(t, h.r, h.store, 6)
	checkAsOf(t, eng, projections.BasisRecorded, recorded)
	checkAsOf(t, eng, projections.BasisOccurred, occurred)
}

// jitterStore steps recorded_at back by up to 50 seconds, differently per
// event — a KurrentDB leader change does that — but never by more than the
// recorded basis' minute of slack.
type jitterStore struct {
	eventstore.Store
}

func (s jitterStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := s.Store.ReadAll(ctx, after, limit)
	for i := range recs {
		recs[i].RecordedAt = recs[i].RecordedAt.Add(-time.Duration(recs[i].Position*7919%51) * time.Second)
	}
	return recs, err
}

func TestAsOfMatchesTheReplayWhenRecordedAtStepsBack(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			h := newPropHistory(t, 1000+seed, dir)
			for range 1000 {
				h.step()
			}
			eng, err := projections.Open(context.Background(), projections.Config{Store: jitterStore{h.store}, Path: filepath.Join(dir, "p.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { eng.Close() })
			all, _ := jitterStore{h.store}.ReadAll(context.Background(), 0, 1<<20)
			back := 0
			for i := 1; i < len(all); i++ {
				if all[i].RecordedAt.Before(all[i-1].RecordedAt) {
					back++
				}
			}
			if back < len(all)/10 {
				t.Fatalf("recorded_at steps back only %d times in %d events", back, len(all))
			}
			recorded, _ := propCuts(t, h.r, jitterStore{h.store}, 10)
			// Times just past the clock's samples (every 256th event): a
			// cut must not start reading at a sample recorded less than the
			// slack before the time.
			for i := 0; i < len(all); i += 256 {
				for _, d := range []time.Duration{0, 10, 25, 40, 55} {
					recorded = append(recorded, all[i].RecordedAt.Add(d*time.Second))
				}
			}
			checkAsOf(t, eng, projections.BasisRecorded, recorded)
		})
	}
}

// Models at different positions (the router feeds each on its own) are each
// brought up to the head from where they stand, and an event no model can
// decode is listed in the poison queue, as the router would list it.
func TestAsOfCatchesUpModelsFromWhereEachStands(t *testing.T) {
	dir := t.TempDir()
	h := newPropHistory(t, 42, dir)
	for i := range 1200 {
		h.step()
		if i == 700 {
			h.write("bogus-1", eventstore.EventData{ID: uuid.New(), Type: "Bogus.v1", Data: []byte("?"), Meta: eventstore.Metadata{OccurredAt: h.now}})
		}
	}
	eng, err := projections.Open(context.Background(), projections.Config{Store: h.store, Path: filepath.Join(dir, "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	all, err := h.store.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for name, upto := range map[string]int{projections.NameCompletion: len(all) / 2, projections.NameTrust: len(all) / 3, projections.NameFeedback: len(all) - 1} {
		for i := range upto {
			if all[i].Type == "Bogus.v1" {
				continue // the router would have poisoned it
			}
			if err := eng.Deliver(name, &all[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	recorded, occurred := propCuts(t, h.r, h.store, 4)
	checkAsOf(t, eng, projections.BasisRecorded, recorded[:1])
	poisoned, err := eng.Poisoned()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range poisoned {
		if p.EventType != "Bogus.v1" {
			t.Errorf("poisoned: %+v", p)
		}
		names = append(names, p.Projection)
	}
	// Feedback had passed it when the catch-up started; every other model
	// (activity, users' last writes, too) had not.
	if want := []string{projections.NameActivity, projections.NameCompletion, projections.NameReferrals, projections.NameTrust}; !reflect.DeepEqual(names, want) {
		t.Errorf("poisoned for %v, want %v", names, want)
	}
	checkAsOf(t, eng, projections.BasisRecorded, recorded)
	checkAsOf(t, eng, projections.BasisOccurred, occurred)
}

// strictStore refuses, as KurrentDB does (InvalidPosition), to read the log
// after a position that is not one of an event it has handed out: a reader
// may only start where an event is.
type strictStore struct {
	eventstore.Store
	mu    sync.Mutex
	known map[uint64]bool
}

func (s *strictStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	s.mu.Lock()
	ok := after == 0 || s.known[after]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("strict store: %d is not the position of an event read before", after)
	}
	recs, err := s.Store.ReadAll(ctx, after, limit)
	s.mu.Lock()
	for _, r := range recs {
		s.known[r.Position] = true
	}
	s.mu.Unlock()
	return recs, err
}

// On the production adapter (KurrentDB commit positions, claim streams and
// system records between the application's events), reading only from
// positions of events, the answers agree with the replay.
func TestAsOfMatchesTheReplayOnKurrentDB(t *testing.T) {
	steps := 400
	if testing.Short() {
		steps = 200
	}
	h := newPropHistoryOn(t, 5, func(clock func() time.Time) eventstore.Store {
		srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 3, Clock: clock})
		s, err := kurrentstore.Open(t.Context(), srv.URL(), kurrentstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	for range steps {
		h.step()
	}
	strict := &strictStore{Store: h.store, known: map[uint64]bool{}}
	eng, err := projections.Open(context.Background(), projections.Config{Store: strict, Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	all, err := h.store.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if all[1].Position-all[0].Position < 2 {
		t.Fatalf("positions %d, %d: contiguous", all[0].Position, all[1].Position)
	}
	recorded, occurred := propCuts(t, h.r, h.store, 5)
	checkAsOf(t, eng, projections.BasisRecorded, recorded)
	checkAsOf(t, eng, projections.BasisOccurred, occurred)
}

// A rebuild counts the log into the as-of clock, which is saved with the
// models: a server started on rebuilt models answers a recorded-basis
// question without reading the log first.
func TestRebuildFillsTheAsOfClock(t *testing.T) {
	dir := t.TempDir()
	h := newPropHistory(t, 11, dir)
	for range 1500 {
		h.step()
	}
	cfg := projections.Config{Store: h.store, Path: filepath.Join(dir, "p.db")}
	eng, err := projections.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	head, _ := h.store.Head(context.Background())
	if samples, covered := eng.ClockSamples(); covered != head || samples != (h.n+255)/256 {
		t.Fatalf("after a rebuild the clock has %d samples up to %d; want %d up to %d", samples, covered, (h.n+255)/256, head)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = projections.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if _, covered := eng.ClockSamples(); covered != head {
		t.Fatalf("the clock saved with the rebuilt models covers up to %d of %d", covered, head)
	}
	recorded, _ := propCuts(t, h.r, h.store, 4)
	checkAsOf(t, eng, projections.BasisRecorded, recorded)
}
