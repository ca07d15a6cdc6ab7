package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/google/uuid"
)

// BenchmarkAsOf times Engine.AsOf on a CLEA-national history (12,000
// communities over 40 weeks, about 1.6 million events; set
// ACTIONLEDGER_BENCH_COMMUNITIES to change the size). The history is
// generated once into the temporary directory and reused by later runs,
// because writing 1.6 million durable events takes a while:
//
//	go test ./projections -run '^$' -bench 'AsOf$' -benchtime 3x
func BenchmarkAsOf(b *testing.B) {
	spec := cleaSpec(benchCommunities(b))
	store, events := cachedHistory(b, spec)
	eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(b.TempDir(), "projections.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	b.Logf("history: %d events, %d communities, %d weeks from %s", events, spec.communities, spec.weeks, spec.start.Format(time.DateOnly))
	mid := spec.start.AddDate(0, 0, 7*spec.weeks/2)
	end := spec.start.AddDate(0, 0, 7*spec.weeks)
	// As-of answers from the live models: a server has them at the head
	// already. This engine does not run, so its first question brings them
	// there (a full fold of the log, as a start without snapshots would):
	// done once here, outside the timings.
	start := time.Now()
	if _, err := eng.AsOf(context.Background(), end, projections.BasisOccurred, projections.Filter{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("models caught up with the log in %s", time.Since(start).Round(time.Millisecond))
	for _, tc := range []struct {
		name  string
		at    time.Time
		basis string
		f     projections.Filter
	}{
		{"national/occurred/end", end, projections.BasisOccurred, projections.Filter{}},
		{"national/recorded/end", end, projections.BasisRecorded, projections.Filter{}},
		{"national/occurred/mid", mid, projections.BasisOccurred, projections.Filter{}},
		{"national/recorded/mid", mid, projections.BasisRecorded, projections.Filter{}},
		{"district/occurred/end", end, projections.BasisOccurred, projections.Filter{District: "Kenema"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var res projections.AsOf
			cpu := cpuTime()
			for b.Loop() {
				if res, err = eng.AsOf(context.Background(), tc.at, tc.basis, tc.f); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time says what the work costs even when other processes
			// share the machine; wall time says what an auditor waits.
			b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(res.Position)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if res.Completion.Total == 0 || res.Feedback.Received == 0 {
				b.Fatalf("as-of answered nothing: %+v", res.Completion.Counts)
			}
		})
	}
}

// BenchmarkAsOfScaling times the national as-of question on histories of
// growing size — the same CLEA shape with a quarter, half and all of
// CLEA-national's communities by default (ACTIONLEDGER_BENCH_SCALES, a
// comma-separated list of community counts, changes them) — to show how the
// time grows with the history: ten times CLEA (clea10) has ten times the
// communities over the same 40 weeks. Each history is generated once and
// cached like BenchmarkAsOf's:
//
//	go test ./projections -run '^$' -bench AsOfScaling -benchtime 10x
func BenchmarkAsOfScaling(b *testing.B) {
	scales := []int{3000, 6000, 12000}
	if v := os.Getenv("ACTIONLEDGER_BENCH_SCALES"); v != "" {
		scales = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 16 {
				b.Fatalf("ACTIONLEDGER_BENCH_SCALES=%q: want community counts of at least 16", v)
			}
			scales = append(scales, n)
		}
	}
	for _, communities := range scales {
		spec := cleaSpec(communities)
		b.Run(fmt.Sprintf("communities=%d", communities), func(b *testing.B) {
			store, events := cachedHistory(b, spec)
			eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(b.TempDir(), "projections.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			end := spec.start.AddDate(0, 0, 7*spec.weeks)
			mid := spec.start.AddDate(0, 0, 7*spec.weeks/2)
			// The models are brought to the head outside the timings, as a
			// server has them.
			if _, err := eng.AsOf(context.Background(), end, projections.BasisOccurred, projections.Filter{}); err != nil {
				b.Fatal(err)
			}
			for _, tc := range []struct {
				name  string
				at    time.Time
				basis string
			}{
				{"occurred/mid", mid, projections.BasisOccurred},
				{"occurred/end", end, projections.BasisOccurred},
				{"recorded/mid", mid, projections.BasisRecorded},
				{"recorded/end", end, projections.BasisRecorded},
			} {
				b.Run(tc.name, func(b *testing.B) {
					cpu := cpuTime()
					for b.Loop() {
						if _, err := eng.AsOf(context.Background(), tc.at, tc.basis, projections.Filter{}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
					b.ReportMetric(float64(events), "events")
				})
			}
		})
	}
}

// benchCommunities is the size of the benchmark history: CLEA-national's
// 12,000 communities unless ACTIONLEDGER_BENCH_COMMUNITIES says otherwise.
func benchCommunities(b *testing.B) int {
	communities := 12000
	if v := os.Getenv("ACTIONLEDGER_BENCH_COMMUNITIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 {
			b.Fatalf("ACTIONLEDGER_BENCH_COMMUNITIES=%q: want an integer of at least 16", v)
		}
		communities = n
	}
	return communities
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// historySpec shapes a generated history after CLEA: communities registered
// and triggered in the first week, visited weekly, five action points each,
// and referrals and feedback items moving through their lifecycles.
type historySpec struct {
	communities int
	weeks       int
	start       time.Time // a Monday
	seed        uint64
}

func cleaSpec(communities int) historySpec {
	return historySpec{communities: communities, weeks: 40, start: time.Date(2014, 10, 6, 0, 0, 0, 0, time.UTC), seed: 2014}
}

// districts are Sierra Leone's sixteen; generated communities cycle through
// them, twelve chiefdoms each (about CLEA's 190).
var districts = []string{"Kailahun", "Kenema", "Kono", "Bombali", "Falaba", "Koinadugu", "Tonkolili", "Kambia",
	"Karene", "Port Loko", "Bo", "Bonthe", "Moyamba", "Pujehun", "Western Area Rural", "Western Area Urban"}

// cachedHistory opens a generated history, writing it first if no earlier run
// left a complete one in the temporary directory.
func cachedHistory(tb testing.TB, spec historySpec) (*boltstore.Store, uint64) {
	tb.Helper()
	dir := os.Getenv("ACTIONLEDGER_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("actionledger-history-v1-%d-%d.db", spec.communities, spec.weeks))
	marker := path + ".complete"
	if _, err := os.Stat(marker); err != nil {
		_ = os.Remove(path)
		start := time.Now()
		s, err := boltstore.Open(path, boltstore.Options{Clock: spec.clock()})
		if err != nil {
			tb.Fatal(err)
		}
		n := generateHistory(tb, s, spec)
		if err := s.Close(); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("generated %d events in %s into %s", n, time.Since(start).Round(time.Second), path)
		if err := os.WriteFile(marker, []byte(strconv.FormatUint(n, 10)), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	head, err := s.Head(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s, head
}

// simNow is the generator's server clock: the end of the week being written,
// so that recorded_at advances week by week like a real deployment's.
var simNow atomic.Int64

func (spec historySpec) clock() func() time.Time {
	return func() time.Time { return time.Unix(0, simNow.Load()).UTC() }
}

// generateHistory appends the history week by week from 64 goroutines (each
// owning the communities ≡ w mod 64, so every stream is appended in order)
// and returns the number of events written. It appends domain events
// directly, as the command side would have recorded them.
func generateHistory(tb testing.TB, s eventstore.Store, spec historySpec) uint64 {
	tb.Helper()
	const workers = 64
	var total atomic.Uint64
	ctx := context.Background()
	for week := range spec.weeks {
		simNow.Store(spec.start.AddDate(0, 0, 7*week+6).Add(18 * time.Hour).UnixNano())
		var wg sync.WaitGroup
		var failed atomic.Bool
		for w := range workers {
			wg.Go(func() {
				for c := w; c < spec.communities; c += workers {
					for _, a := range spec.communityWeek(c, week) {
						if _, err := s.Append(ctx, a.stream, eventstore.Any, a.events...); err != nil {
							if failed.CompareAndSwap(false, true) {
								tb.Errorf("append to %s: %v", a.stream, err)
							}
							return
						}
						total.Add(uint64(len(a.events)))
					}
				}
			})
		}
		wg.Wait()
		if failed.Load() {
			tb.FailNow()
		}
	}
	return total.Load()
}

type genAppend struct {
	stream string
	events []eventstore.EventData
}

// at is a field time in week: day 0–5, 07:00–16:59.
func (spec historySpec) at(week int, r *rand.Rand) time.Time {
	return spec.start.AddDate(0, 0, 7*week+r.IntN(6)).Add(time.Duration(7*60+r.IntN(600)) * time.Minute)
}

func event(e domain.Event, at time.Time, role string, actor int) eventstore.EventData {
	typ, data := domain.Marshal(e)
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Meta: eventstore.Metadata{
		OccurredAt: at, ActorID: "usr-" + role[:3] + "-" + strconv.Itoa(actor), ActorRole: role,
		CorrelationID: "corr-" + strconv.Itoa(actor),
	}}
}

// communityWeek is what community c's mobilizer and coordinator write in
// week: derived from seeded generators per aggregate, so any week can be
// produced without remembering the ones before.
func (spec historySpec) communityWeek(c, week int) []genAppend {
	id := fmt.Sprintf("C%05d", c)
	place := domain.Place{District: districts[c%len(districts)], Chiefdom: fmt.Sprintf("Chiefdom %02d", c/len(districts)%12), Section: "S1"}
	mob, coord := c/5, c/60 // five communities per mobilizer, sixty per coordinator
	r := rand.New(rand.NewPCG(spec.seed, uint64(c)<<16|uint64(week)))
	var out []genAppend
	cs := domain.CommunityStream(id)

	// The community: registered and triggered in week 0, visited weekly;
	// one visit in ten reaches the server a week late, with the next one.
	switch {
	case week == 0:
		out = append(out, genAppend{cs, []eventstore.EventData{
			event(&domain.CommunityRegistered{ID: id, Name: "Village " + id, Place: place, Population: 300 + r.IntN(3000)}, spec.at(0, r), "coordinator", coord),
			event(&domain.CommunityTriggered{Attendance: 40 + r.IntN(300)}, spec.at(0, r), "mobilizer", mob),
		}})
	default:
		var evs []eventstore.EventData
		if prev := rand.New(rand.NewPCG(spec.seed, uint64(c)<<16|uint64(week-1)|1<<15)); week > 1 && prev.IntN(10) == 0 {
			evs = append(evs, event(visit(prev), spec.at(week-1, prev), "mobilizer", mob))
		}
		if cur := rand.New(rand.NewPCG(spec.seed, uint64(c)<<16|uint64(week)|1<<15)); cur.IntN(10) != 0 || week == spec.weeks-1 {
			evs = append(evs, event(visit(cur), spec.at(week, cur), "mobilizer", mob))
		}
		if len(evs) > 0 {
			out = append(out, genAppend{cs, evs})
		}
	}

	// Five action points, raised in weeks 1–3 and started the week after;
	// progress noted every sixth week; some achieved, a few dropped.
	for j := range 5 {
		ar := rand.New(rand.NewPCG(spec.seed^0xA9, uint64(c)<<8|uint64(j)))
		apID := fmt.Sprintf("%s-AP%d", id, j)
		raised := 1 + ar.IntN(3)
		started := raised + 1
		fate, fateWeek := ar.IntN(100), started+2+ar.IntN(30)
		stream := domain.ActionPointStream(apID)
		var evs []eventstore.EventData
		switch {
		case week == raised:
			kind, due := "one_off", domain.Date(spec.start.AddDate(0, 0, 7*(raised+6)).Format(time.DateOnly))
			if j == 4 {
				kind, due = "continuous", ""
			}
			evs = append(evs, event(&domain.ActionPointRaised{ID: apID, CommunityID: id, Place: place,
				Title: "Action " + strconv.Itoa(j), Category: domain.Categories[(c+j)%len(domain.Categories)], Kind: kind, DueDate: due}, spec.at(week, r), "mobilizer", mob))
		case week == started && fate >= 5:
			evs = append(evs, event(&domain.ActionPointStarted{Note: "begun"}, spec.at(week, r), "mobilizer", mob))
		case week == fateWeek && fate >= 5 && fate < 20:
			evs = append(evs, event(&domain.ActionPointAchieved{Evidence: "seen"}, spec.at(week, r), "mobilizer", mob))
		case week == fateWeek && fate < 5:
			evs = append(evs, event(&domain.ActionPointDropped{Reason: "no materials"}, spec.at(week, r), "coordinator", coord))
		case week > started && fate >= 5 && (fate >= 20 || week < fateWeek) && (week-started)%6 == 0:
			evs = append(evs, event(&domain.ActionPointProgressNoted{Note: "ongoing"}, spec.at(week, r), "mobilizer", mob))
		}
		if len(evs) > 0 {
			out = append(out, genAppend{stream, evs})
		}
	}

	// Referrals and feedback: each in about three community-weeks out of
	// fourteen (some 100,000 of each nationally over 40 weeks), each moving on a
	// step a week.
	for back := range 3 {
		raisedWeek := week - back
		if raisedWeek < 1 {
			continue
		}
		rr := rand.New(rand.NewPCG(spec.seed^0x5E, uint64(c)<<16|uint64(raisedWeek)))
		if rr.IntN(14) < 3 {
			refID := fmt.Sprintf("%s-R%d", id, raisedWeek)
			stream := domain.ReferralStream(refID)
			raisedAt := spec.at(raisedWeek, rr)
			kind := domain.ReferralKinds[rr.IntN(3)]
			onset := time.Time{}
			if kind == "suspected_case" {
				onset = raisedAt.Add(-time.Duration(rr.IntN(72)) * time.Hour)
			}
			fate := rr.IntN(100)
			switch {
			case back == 0:
				out = append(out, genAppend{stream, []eventstore.EventData{
					event(&domain.ReferralRaised{ID: refID, CommunityID: id, Place: place, Kind: kind, Channel: "mobilizer", PersonRef: "P-" + refID, SymptomOnset: onset}, raisedAt, "mobilizer", mob),
					event(&domain.ReferralAcknowledged{}, raisedAt.Add(time.Hour), "coordinator", coord),
				}})
			case back == 1 && fate < 10:
				out = append(out, genAppend{stream, []eventstore.EventData{event(&domain.ReferralCancelled{Reason: "duplicate"}, spec.at(week, rr), "coordinator", coord)}})
			case back == 1 && fate < 95:
				arrived := raisedAt.Add(time.Duration(2+rr.IntN(70)) * time.Hour)
				outcome := domain.Outcomes[rr.IntN(len(domain.Outcomes))]
				out = append(out, genAppend{stream, []eventstore.EventData{
					event(&domain.ReferralCompleted{ArrivedAt: arrived, Outcome: outcome}, arrived, "mobilizer", mob),
					event(&domain.ReferralClosed{}, arrived.Add(2*time.Hour), "coordinator", coord),
				}})
			}
		}
		fr := rand.New(rand.NewPCG(spec.seed^0xFB, uint64(c)<<16|uint64(raisedWeek)))
		if fr.IntN(14) < 3 {
			fbID := fmt.Sprintf("%s-F%d", id, raisedWeek)
			stream := domain.FeedbackStream(fbID)
			receivedAt := spec.at(raisedWeek, fr)
			typ := domain.FeedbackTypes[fr.IntN(len(domain.FeedbackTypes))]
			need := domain.Needs[fr.IntN(len(domain.Needs))]
			fate := fr.IntN(100)
			switch {
			case back == 0:
				out = append(out, genAppend{stream, []eventstore.EventData{
					event(&domain.FeedbackReceived{ID: fbID, CommunityID: id, Place: place, Type: typ, Text: "What the community said", NeedCategory: need, Channel: "mobilizer"}, receivedAt, "mobilizer", mob),
					event(&domain.FeedbackReferred{To: "DHMT"}, receivedAt.Add(time.Hour), "coordinator", coord),
				}})
			case back == 1 && fate < 90:
				out = append(out, genAppend{stream, []eventstore.EventData{event(&domain.FeedbackAnswered{Response: "The answer"}, spec.at(week, fr), "coordinator", coord)}})
			case back == 2 && fate < 80:
				told := spec.at(week, fr)
				out = append(out, genAppend{stream, []eventstore.EventData{event(&domain.FeedbackLoopClosed{CommunicatedAt: told, Satisfied: fate < 60}, told, "mobilizer", mob)}})
			}
		}
	}
	return out
}

func visit(r *rand.Rand) *domain.VisitRecorded {
	v := &domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + r.IntN(5)}
	if r.IntN(4) == 0 {
		v.Concerns = []domain.Concern{{Need: domain.Needs[r.IntN(len(domain.Needs))], Text: "A concern"}}
	}
	return v
}
