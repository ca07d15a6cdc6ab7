package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// fakeReads stands in for the read models: it knows where communities are,
// records the filter each query reached it with, and answers a page whose
// Next is whatever the test sets.
type fakeReads struct {
	places  map[string]domain.Place
	asked   []projections.Filter
	after   []string
	next    string
	reached uint64
}

func (f *fakeReads) WaitFor(ctx context.Context, pos uint64) error {
	if pos > f.reached {
		return fmt.Errorf("%w: at %d", projections.ErrBehind, f.reached)
	}
	return nil
}

func (f *fakeReads) CommunityPlace(id string) (domain.Place, bool) {
	p, ok := f.places[id]
	return p, ok
}

func (f *fakeReads) CompletionStats(fl projections.Filter, _ bool) (projections.CompletionStats, uint64) {
	f.asked = append(f.asked, fl)
	return projections.CompletionStats{}, f.reached
}

func (f *fakeReads) ReferralStats(fl projections.Filter) (projections.ReferralStats, uint64) {
	f.asked = append(f.asked, fl)
	return projections.ReferralStats{}, f.reached
}

func (f *fakeReads) FeedbackStats(fl projections.Filter, _ bool) (projections.FeedbackStats, uint64) {
	f.asked = append(f.asked, fl)
	return projections.FeedbackStats{}, f.reached
}

func (f *fakeReads) TrustStats(fl projections.Filter) (projections.TrustStats, uint64) {
	f.asked = append(f.asked, fl)
	return projections.TrustStats{}, f.reached
}

func (f *fakeReads) ConcernStats(fl projections.Filter) (projections.ConcernStats, uint64) {
	f.asked = append(f.asked, fl)
	return projections.ConcernStats{}, f.reached
}

func (f *fakeReads) Communities(q projections.CommunityQuery) (projections.ListPage[projections.CommunityItem], uint64) {
	f.asked, f.after = append(f.asked, q.Filter), append(f.after, q.After)
	return projections.ListPage[projections.CommunityItem]{Next: f.next}, f.reached
}

func (f *fakeReads) ActionPoints(q projections.ActionPointQuery) (projections.ListPage[projections.ActionPointItem], uint64) {
	f.asked, f.after = append(f.asked, q.Filter), append(f.after, q.After)
	return projections.ListPage[projections.ActionPointItem]{Next: f.next}, f.reached
}

func (f *fakeReads) Referrals(q projections.ReferralQuery) (projections.ListPage[projections.ReferralItem], uint64) {
	f.asked, f.after = append(f.asked, q.Filter), append(f.after, q.After)
	return projections.ListPage[projections.ReferralItem]{Next: f.next}, f.reached
}

func (f *fakeReads) Feedback(q projections.FeedbackQuery) (projections.ListPage[projections.FeedbackItem], uint64) {
	f.asked, f.after = append(f.asked, q.Filter), append(f.after, q.After)
	return projections.ListPage[projections.FeedbackItem]{Next: f.next}, f.reached
}

func newFakeReads() *fakeReads {
	return &fakeReads{reached: 10, places: map[string]domain.Place{
		"KEN-1": {District: "Kenema", Chiefdom: "Nongowa"},
		"KEN-2": {District: "Kenema", Chiefdom: "Small Bo"},
		"KAI-1": {District: "Kailahun", Chiefdom: "Luawa"},
	}}
}

var (
	chiefdomCoordinator = app.Actor{ID: "u-cc", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}}
	auditor             = app.Actor{ID: "u-aud", Role: domain.RoleAuditor}
	admin               = app.Actor{ID: "admin", Role: domain.RoleAdmin}
)

// readAll asks every indicator and list of r as actor for place and returns
// the first error (every one must agree).
func readAll(t *testing.T, r *app.Reads, actor app.Actor, p app.Place, stats bool) []error {
	t.Helper()
	ctx := context.Background()
	sq := app.StatsRequest{Place: p}
	lq := app.ListRequest{Place: p}
	var errs []error
	keep := func(err error) { errs = append(errs, err) }
	if stats {
		_, _, err := r.CompletionStats(ctx, actor, sq)
		keep(err)
		_, _, err = r.TrustStats(ctx, actor, sq)
		keep(err)
		_, _, err = r.ReferralStats(ctx, actor, sq)
		keep(err)
		_, _, err = r.FeedbackStats(ctx, actor, sq)
		keep(err)
		_, _, err = r.ConcernStats(ctx, actor, sq)
		keep(err)
		return errs
	}
	_, err := r.Communities(ctx, actor, app.CommunityListRequest{ListRequest: lq})
	keep(err)
	_, err = r.ActionPoints(ctx, actor, app.ActionPointListRequest{ListRequest: lq})
	keep(err)
	_, err = r.Referrals(ctx, actor, app.ReferralListRequest{ListRequest: lq})
	keep(err)
	_, err = r.Feedback(ctx, actor, app.FeedbackListRequest{ListRequest: lq})
	keep(err)
	return errs
}

// TestReadsScope: every indicator and list answers only for the caller's
// area — narrowed to it when nothing is asked, refused (403) outside it,
// the place of a community coming from the read models — and only to the
// roles PRODUCT.md names.
func TestReadsScope(t *testing.T) {
	cases := []struct {
		name   string
		actor  app.Actor
		place  app.Place
		stats  bool
		code   domain.Code // "" : answered
		want   domain.Area // the area the read models were asked about
		field  string      // the field a refusal names
		wantID string      // the community asked about
	}{
		{name: "chiefdom coordinator, nothing asked", actor: chiefdomCoordinator, stats: true, want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "chiefdom coordinator, own district", actor: chiefdomCoordinator, place: app.Place{District: " kenema "}, stats: true, want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "chiefdom coordinator, another chiefdom", actor: chiefdomCoordinator, place: app.Place{District: "Kenema", Chiefdom: "Small Bo"}, stats: true, code: domain.CodeForbidden},
		{name: "chiefdom coordinator, another district", actor: chiefdomCoordinator, place: app.Place{District: "Kailahun"}, stats: true, code: domain.CodeForbidden},
		{name: "chiefdom coordinator, a community of another chiefdom", actor: chiefdomCoordinator, place: app.Place{CommunityID: "KEN-2"}, stats: true, code: domain.CodeForbidden},
		{name: "chiefdom coordinator, a community of theirs", actor: chiefdomCoordinator, place: app.Place{CommunityID: "KEN-1"}, stats: true,
			want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}, wantID: "KEN-1"},
		{name: "an unknown community", actor: auditor, place: app.Place{CommunityID: "NOPE"}, stats: true, code: domain.CodeNotFound, field: "community_id"},
		{name: "chiefdom without district", actor: auditor, place: app.Place{Chiefdom: "Luawa"}, stats: true, code: domain.CodeInvalid, field: "district"},
		{name: "mobilizer, own area", actor: mobilizer, stats: true, want: domain.Area{District: "Kenema"}},
		{name: "mobilizer, another district", actor: mobilizer, place: app.Place{District: "Kailahun"}, stats: true, code: domain.CodeForbidden},
		{name: "mobilizer, a community elsewhere", actor: mobilizer, place: app.Place{CommunityID: "KAI-1"}, stats: true, code: domain.CodeForbidden},
		{name: "national auditor, a district", actor: auditor, place: app.Place{District: "Kailahun"}, stats: true, want: domain.Area{District: "Kailahun"}},
		{name: "admin, indicators", actor: admin, stats: true, code: domain.CodeForbidden},
		{name: "admin, lists", actor: admin, want: domain.Area{}},
		{name: "mobilizer, lists of own area", actor: mobilizer, place: app.Place{District: "Kenema", Chiefdom: "Nongowa"}, want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "mobilizer, lists of another area", actor: mobilizer, place: app.Place{District: "Kailahun"}, code: domain.CodeForbidden},
		{name: "chiefdom coordinator, lists of another chiefdom", actor: chiefdomCoordinator, place: app.Place{District: "Kenema", Chiefdom: "Small Bo"}, code: domain.CodeForbidden},
		{name: "chiefdom coordinator, lists, nothing asked", actor: chiefdomCoordinator, want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "no role", actor: app.Actor{ID: "x"}, code: domain.CodeForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			models := newFakeReads()
			r := app.NewReads(models, nil)
			for i, err := range readAll(t, r, c.actor, c.place, c.stats) {
				if got := domain.ErrorCode(err); err != nil && got != c.code || err == nil && c.code != "" {
					t.Fatalf("read %d: error %v (code %q), want code %q", i, err, got, c.code)
				}
				if c.field != "" {
					var de *domain.Error
					if !errors.As(err, &de) || de.Field != c.field {
						t.Errorf("read %d: %v, want field %q", i, err, c.field)
					}
				}
			}
			if c.code != "" {
				if len(models.asked) != 0 {
					t.Errorf("refused, yet the read models were asked %v", models.asked)
				}
				return
			}
			if len(models.asked) == 0 {
				t.Fatal("the read models were not asked")
			}
			for _, f := range models.asked {
				if domain.PlaceKey(f.District) != domain.PlaceKey(c.want.District) || domain.PlaceKey(f.Chiefdom) != domain.PlaceKey(c.want.Chiefdom) || f.CommunityID != c.wantID {
					t.Errorf("read models asked about %q/%q/%q, want %q/%q/%q", f.District, f.Chiefdom, f.CommunityID, c.want.District, c.want.Chiefdom, c.wantID)
				}
				if f.Now.IsZero() {
					t.Error("the read models were asked without a now")
				}
			}
		})
	}
}

// TestReadsInput: bad parameters are refused naming the field, before the
// read models are asked; a position not reached in time is projection_behind.
func TestReadsInput(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func(r *app.Reads) error
		code  domain.Code
		field string
	}{
		{"unknown category", func(r *app.Reads) error {
			_, _, err := r.CompletionStats(ctx, auditor, app.StatsRequest{Category: "magic"})
			return err
		}, domain.CodeInvalid, "category"},
		{"category on trust", func(r *app.Reads) error {
			_, _, err := r.TrustStats(ctx, auditor, app.StatsRequest{Category: "hygiene"})
			return err
		}, domain.CodeInvalid, "category"},
		{"to before from", func(r *app.Reads) error {
			at := time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC)
			_, _, err := r.ConcernStats(ctx, auditor, app.StatsRequest{From: at, To: at.AddDate(0, 0, -1)})
			return err
		}, domain.CodeInvalid, "to"},
		{"position not reached", func(r *app.Reads) error {
			_, _, err := r.ReferralStats(ctx, auditor, app.StatsRequest{MinPosition: 11})
			return err
		}, app.CodeBehind, ""},
		{"limit too large", func(r *app.Reads) error {
			_, err := r.Communities(ctx, auditor, app.CommunityListRequest{ListRequest: app.ListRequest{Limit: app.MaxLimit + 1}})
			return err
		}, domain.CodeInvalid, "limit"},
		{"not a cursor", func(r *app.Reads) error {
			_, err := r.Referrals(ctx, auditor, app.ReferralListRequest{ListRequest: app.ListRequest{Cursor: "AQE"}})
			return err
		}, domain.CodeInvalid, "cursor"},
		{"community status", func(r *app.Reads) error {
			_, err := r.Communities(ctx, auditor, app.CommunityListRequest{Status: "open"})
			return err
		}, domain.CodeInvalid, "status"},
		{"referral status", func(r *app.Reads) error {
			_, err := r.Referrals(ctx, auditor, app.ReferralListRequest{Status: "received"})
			return err
		}, domain.CodeInvalid, "status"},
		{"referral kind", func(r *app.Reads) error {
			_, err := r.Referrals(ctx, auditor, app.ReferralListRequest{Kind: "rumour"})
			return err
		}, domain.CodeInvalid, "kind"},
		{"feedback type", func(r *app.Reads) error {
			_, err := r.Feedback(ctx, auditor, app.FeedbackListRequest{Type: "death_alert"})
			return err
		}, domain.CodeInvalid, "type"},
		{"negative age", func(r *app.Reads) error {
			_, err := r.Feedback(ctx, auditor, app.FeedbackListRequest{OlderThanDays: -1})
			return err
		}, domain.CodeInvalid, "older_than_days"},
		{"action point status", func(r *app.Reads) error {
			_, err := r.ActionPoints(ctx, auditor, app.ActionPointListRequest{Status: "raised"})
			return err
		}, domain.CodeInvalid, "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			models := newFakeReads()
			r := app.NewReads(models, nil)
			r.MaxWait = time.Millisecond
			err := c.call(r)
			if got := domain.ErrorCode(err); got != c.code {
				t.Fatalf("error %v (code %q), want code %q", err, got, c.code)
			}
			var de *domain.Error
			if c.field != "" && (!errors.As(err, &de) || de.Field != c.field) {
				t.Errorf("%v, want field %q", err, c.field)
			}
			if len(models.asked) != 0 {
				t.Errorf("refused, yet the read models were asked %v", models.asked)
			}
		})
	}
}

// TestReadsCursor: the cursor a page gives continues after the key the read
// models returned, and the last page gives none.
func TestReadsCursor(t *testing.T) {
	ctx := context.Background()
	models := newFakeReads()
	r := app.NewReads(models, nil)
	models.next = "KEN-1\x00key"
	p, err := r.Communities(ctx, auditor, app.CommunityListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor == "" || p.Position != models.reached || p.Items == nil {
		t.Fatalf("first page %+v, want a cursor, position %d and an empty (not null) list", p, models.reached)
	}
	models.next = ""
	p, err = r.Communities(ctx, auditor, app.CommunityListRequest{ListRequest: app.ListRequest{Cursor: p.NextCursor}})
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor != "" {
		t.Errorf("last page gives cursor %q", p.NextCursor)
	}
	if want := []string{"", "KEN-1\x00key"}; len(models.after) != 2 || models.after[0] != want[0] || models.after[1] != want[1] {
		t.Errorf("the read models were asked after %q, want %q", models.after, want)
	}
}

// TestReadsResolveNames: with a place list, the names a read gives are
// checked and put in their canonical spelling before the area check.
func TestReadsResolveNames(t *testing.T) {
	ctx := context.Background()
	models := newFakeReads()
	r := app.NewReads(models, nil)
	r.ResolveNames = func(a domain.Area) (domain.Area, error) {
		if domain.PlaceKey(a.District) != "kenema" {
			return domain.Area{}, domain.FieldError("district", "unknown district %q", a.District)
		}
		return domain.Area{District: "Kenema", Chiefdom: "Nongowa"}, nil
	}
	if _, _, err := r.CompletionStats(ctx, auditor, app.StatsRequest{Place: app.Place{District: "Atlantis"}}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("an unknown district: %v, want invalid_input", err)
	}
	if _, err := r.Referrals(ctx, mobilizer, app.ReferralListRequest{ListRequest: app.ListRequest{Place: app.Place{District: "kenema", Chiefdom: "nongwa"}}}); err != nil {
		t.Fatal(err)
	}
	if len(models.asked) != 1 || models.asked[0].District != "Kenema" || models.asked[0].Chiefdom != "Nongowa" {
		t.Errorf("read models asked %+v, want the canonical Kenema/Nongowa", models.asked)
	}
}
