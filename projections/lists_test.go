package projections_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// listsFeed folds events into a Lists model, numbering positions and
// stream revisions as the store would.
type listsFeed struct {
	t   *testing.T
	m   *projections.Lists
	pos uint64
	rev map[string]uint64
}

func (f *listsFeed) add(stream, actor string, at time.Time, data domain.Event) {
	f.t.Helper()
	f.pos++
	f.rev[stream]++
	if err := f.m.Apply(&projections.Event{Position: f.pos, Stream: stream, Revision: f.rev[stream], OccurredAt: at, ActorID: actor, Data: data}); err != nil {
		f.t.Fatal(err)
	}
}

// listsAnswers asks every list and the concerns of m for f.
func listsAnswers(m *projections.Lists, f projections.Filter) []any {
	return []any{
		m.Communities(projections.CommunityQuery{Filter: f, Limit: 100}),
		m.ActionPoints(projections.ActionPointQuery{Filter: f, Limit: 100}),
		m.Referrals(projections.ReferralQuery{Filter: f, Limit: 100}),
		m.Feedback(projections.FeedbackQuery{Filter: f, Limit: 100}),
		m.Concerns(f),
	}
}

// TestListsModel: the rows hold what the lists show (names, who raised it,
// open action points, the community's revision), in the documented order,
// and a snapshot restores the same answers.
func TestListsModel(t *testing.T) {
	f := &listsFeed{t: t, m: projections.NewLists(), rev: map[string]uint64{}}
	bo := domain.Place{District: "Bo", Chiefdom: "Kakua"}
	f.add(domain.CommunityStream("C1"), "u1", t0, &domain.CommunityRegistered{ID: "C1", Name: "Kpayama", Place: kenema, Population: 500})
	f.add(domain.CommunityStream("C2"), "u1", t0, &domain.CommunityRegistered{ID: "C2", Name: "Bandajuma", Place: bo})
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(24*time.Hour), &domain.CommunityTriggered{Attendance: 40})
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(72*time.Hour), &domain.VisitRecorded{Kind: "initial", TrustRating: 3,
		Concerns: []domain.Concern{{Need: "basic", Text: "food"}, {Need: "respect", Text: "burials"}}})
	// Synced late: an earlier visit arrives after a later one.
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(48*time.Hour), &domain.VisitRecorded{Kind: "follow_up", TrustRating: 4})
	for i, due := range []domain.Date{"2015-02-20", "", "2015-03-20", "2015-02-10"} {
		id := fmt.Sprintf("AP%d", i+1)
		f.add(domain.ActionPointStream(id), "u2", t0, &domain.ActionPointRaised{ID: id, CommunityID: "C1", Place: kenema,
			Title: "Title " + id, Category: "hygiene", Kind: "one_off", DueDate: due})
	}
	f.add(domain.ActionPointStream("AP4"), "u2", t0.Add(time.Hour), &domain.ActionPointStarted{})
	f.add(domain.ActionPointStream("AP3"), "u2", t0.Add(time.Hour), &domain.ActionPointDropped{Reason: "r"})
	f.add(domain.ReferralStream("R2"), "u3", t0.Add(5*time.Hour), &domain.ReferralRaised{ID: "R2", CommunityID: "C1", Place: kenema, Kind: "other", Channel: "mobilizer"})
	f.add(domain.ReferralStream("R1"), "u3", t0.Add(2*time.Hour), &domain.ReferralRaised{ID: "R1", CommunityID: "C1", Place: kenema, Kind: "death_alert"})
	f.add(domain.ReferralStream("R1"), "u4", t0.Add(3*time.Hour), &domain.ReferralAcknowledged{})
	f.add(domain.FeedbackStream("F1"), "u3", t0.Add(time.Hour), &domain.FeedbackReceived{ID: "F1", CommunityID: "C1", Place: kenema, Type: "rumour", NeedCategory: "respect"})
	f.add(domain.FeedbackStream("F1"), "u4", t0.Add(2*time.Hour), &domain.FeedbackLoopClosed{CommunicatedAt: t0.Add(50 * time.Hour), Satisfied: true})

	now := t0.AddDate(0, 0, 30) // 2015-03-04: AP1 and AP4 are overdue
	national := projections.Filter{Now: now}
	comms := f.m.Communities(projections.CommunityQuery{Filter: national, Limit: 10})
	if len(comms.Items) != 2 || comms.Items[0].ID != "C2" || comms.Items[1].ID != "C1" {
		t.Fatalf("communities %+v, want C2 (Bo) then C1 (Kenema)", comms.Items)
	}
	c1 := comms.Items[1]
	if c1.Status != domain.StatusUnderFollowUp || c1.Visits != 2 || c1.OpenActionPoints != 3 || c1.Revision != 4 ||
		c1.LastVisitAt == nil || !c1.LastVisitAt.Equal(t0.Add(72*time.Hour)) || c1.TriggeredAt == nil || c1.Name != "Kpayama" {
		t.Errorf("C1 row %+v, want under follow-up, 2 visits (last at %v), 3 open action points, revision 4", c1, t0.Add(72*time.Hour))
	}
	aps := f.m.ActionPoints(projections.ActionPointQuery{Filter: national, Limit: 10})
	var order []string
	for _, it := range aps.Items {
		order = append(order, it.ID)
	}
	if want := []string{"AP4", "AP1", "AP3", "AP2"}; !reflect.DeepEqual(order, want) {
		t.Errorf("action points in order %v, want %v (overdue longest first, then by due date, then none)", order, want)
	}
	if it := aps.Items[0]; it.DaysOverdue != 22 || it.CommunityName != "Kpayama" || it.Title != "Title AP4" || it.RaisedBy != "u2" {
		t.Errorf("AP4 row %+v, want 22 days overdue, Kpayama, raised by u2", it)
	}
	refs := f.m.Referrals(projections.ReferralQuery{Filter: national, Limit: 10})
	if len(refs.Items) != 2 || refs.Items[0].ID != "R1" || refs.Items[0].Status != domain.StatusAcknowledged || refs.Items[0].AcknowledgedAt == nil || refs.Items[0].RaisedBy != "u3" {
		t.Errorf("referrals %+v, want R1 (raised first, acknowledged) then R2", refs.Items)
	}
	raised := f.m.Referrals(projections.ReferralQuery{Filter: national, Status: domain.StatusRaised, RaisedBefore: t0.Add(5 * time.Hour), Limit: 10})
	if len(raised.Items) != 1 || raised.Items[0].ID != "R2" {
		t.Errorf("raised by %v: %+v, want R2 (raised exactly then)", t0.Add(5*time.Hour), raised.Items)
	}
	open := false
	if fb := f.m.Feedback(projections.FeedbackQuery{Filter: national, LoopClosed: &open, Limit: 10}); len(fb.Items) != 0 {
		t.Errorf("open loops %+v, want none", fb.Items)
	}
	conc := f.m.Concerns(national)
	if conc.Visits != 2 || conc.VisitsWithConcerns != 1 || conc.Concerns != 2 || conc.ByNeed["basic"] != 1 || conc.ByNeed["respect"] != 1 || len(conc.ByNeed) != 6 {
		t.Errorf("concerns %+v, want 2 visits, 1 with concerns, basic 1, respect 1, every need listed", conc)
	}
	if len(conc.ByPlace) != 2 || conc.ByPlace[1].District != "Kenema" || conc.ByPlace[1].Concerns != 2 || conc.ByPlace[0].Visits != 0 {
		t.Errorf("by place %+v, want Bo (no visits), then Kenema with both concerns", conc.ByPlace)
	}

	// Paging: one at a time, the pages concatenate to the whole list.
	var paged []string
	after := ""
	for range 10 {
		p := f.m.ActionPoints(projections.ActionPointQuery{Filter: national, After: after, Limit: 1})
		for _, it := range p.Items {
			paged = append(paged, it.ID)
		}
		if after = p.Next; after == "" {
			break
		}
	}
	if !reflect.DeepEqual(paged, order) {
		t.Errorf("paged %v, want %v", paged, order)
	}

	data, err := f.m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := projections.NewLists()
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, fl := range []projections.Filter{national, {District: "kenema", Now: now}, {CommunityID: "C2", Now: now}} {
		if got, want := listsAnswers(restored, fl), listsAnswers(f.m, fl); !reflect.DeepEqual(got, want) {
			t.Errorf("restored from a snapshot, %+v answers\n%+v\nwant\n%+v", fl, got, want)
		}
	}
	// The restored model goes on counting open action points.
	f.m = restored
	f.add(domain.ActionPointStream("AP1"), "u2", now, &domain.ActionPointAchieved{})
	if c := f.m.Communities(projections.CommunityQuery{Filter: projections.Filter{CommunityID: "C1", Now: now}, Limit: 1}).Items[0]; c.OpenActionPoints != 2 {
		t.Errorf("after achieving AP1: %d open action points, want 2", c.OpenActionPoints)
	}
}

// TestListsOrderOutOfOrder: records that arrive far out of their list's
// order (a bulk catch-up of late syncs) still page in order, each once,
// from the first read on and after more arrive.
func TestListsOrderOutOfOrder(t *testing.T) {
	f := &listsFeed{t: t, m: projections.NewLists(), rev: map[string]uint64{}}
	f.add(domain.CommunityStream("C1"), "u1", t0, &domain.CommunityRegistered{ID: "C1", Name: "Kpayama", Place: kenema})
	const n = 6000
	raise := func(i int) {
		id := fmt.Sprintf("R%05d", i)
		// Raised in reverse order of the log, in clumps of equal times.
		f.add(domain.ReferralStream(id), "u1", t0.Add(time.Duration(n-i/3)*time.Minute), &domain.ReferralRaised{ID: id, CommunityID: "C1", Place: kenema, Kind: "other"})
	}
	for i := range n {
		raise(i)
	}
	walk := func() []string {
		var ids []string
		after := ""
		for range n {
			p := f.m.Referrals(projections.ReferralQuery{Filter: projections.Filter{District: "Kenema", Now: t0}, After: after, Limit: 250})
			for _, it := range p.Items {
				ids = append(ids, it.ID)
			}
			if after = p.Next; after == "" {
				break
			}
		}
		return ids
	}
	check := func(ids []string, total int) {
		t.Helper()
		if len(ids) != total {
			t.Fatalf("paged %d referrals, want %d", len(ids), total)
		}
		seen := map[string]bool{}
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
			if i > 0 {
				var a, b int
				fmt.Sscanf(ids[i-1], "R%d", &a)
				fmt.Sscanf(id, "R%d", &b)
				// Later in the log is earlier in the field; equal times go by id.
				if ta, tb := n-a/3, n-b/3; ta > tb || ta == tb && a > b {
					t.Fatalf("%s listed before %s", ids[i-1], id)
				}
			}
		}
	}
	check(walk(), n)
	for i := n; i < n+300; i++ {
		raise(i)
	}
	check(walk(), n+300)
}

// TestListsItemsBeforeTheirCommunity: items whose community the model has
// not seen (a log the domain would not write, e.g. a partial import) are
// listed at their own place, and the community, once registered, takes
// them over; until then it is in no communities list.
func TestListsItemsBeforeTheirCommunity(t *testing.T) {
	f := &listsFeed{t: t, m: projections.NewLists(), rev: map[string]uint64{}}
	f.add(domain.ReferralStream("R1"), "u1", t0, &domain.ReferralRaised{ID: "R1", CommunityID: "C9", Place: kenema, Kind: "other"})
	f.add(domain.CommunityStream("C1"), "u1", t0, &domain.CommunityRegistered{ID: "C1", Name: "Zimmi", Place: kenema})
	national := projections.Filter{Now: t0}
	if c := f.m.Communities(projections.CommunityQuery{Filter: national, Limit: 10}); len(c.Items) != 1 || c.Items[0].ID != "C1" {
		t.Errorf("communities %+v, want C1 only", c.Items)
	}
	if r := f.m.Referrals(projections.ReferralQuery{Filter: projections.Filter{District: "kenema", Now: t0}, Limit: 10}); len(r.Items) != 1 || r.Items[0].CommunityName != "" {
		t.Errorf("referrals %+v, want R1 with no community name yet", r.Items)
	}
	f.add(domain.CommunityStream("C9"), "u1", t0, &domain.CommunityRegistered{ID: "C9", Name: "Abu", Place: kenema})
	c := f.m.Communities(projections.CommunityQuery{Filter: national, Limit: 10})
	if len(c.Items) != 2 || c.Items[0].ID != "C9" || c.Items[1].ID != "C1" {
		t.Errorf("communities %+v, want C9 (Abu) then C1 (Zimmi)", c.Items)
	}
	if r := f.m.Referrals(projections.ReferralQuery{Filter: national, Limit: 10}); len(r.Items) != 1 || r.Items[0].CommunityName != "Abu" {
		t.Errorf("referrals %+v, want R1 of Abu", r.Items)
	}
}
