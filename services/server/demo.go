package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// Demo is what LoadDemo loaded.
type Demo struct {
	// Users are the accounts a newcomer tries the API with.
	Users []DemoUser
	// FirstPosition is the position of the demo's first write; the server
	// time of that event is the day the demo was first loaded.
	FirstPosition uint64
}

// DemoDays is how far back the demo's field times go from the day it was
// first loaded: each community is registered DemoDays days before and
// visited weekly since.
const DemoDays = demoWeeks*7 + 3

const demoWeeks = 8

// DemoUser is a demo account and its token.
type DemoUser struct {
	Role  string
	Name  string
	Area  domain.Area
	Token string
}

// demoPlaces is a small slice of Sierra Leone: three districts hit hard in
// 2014, two chiefdoms each (spelt as services/places spells them), a few
// sections.
var demoPlaces = []struct {
	district  string
	chiefdoms map[string][]string
}{
	{"Kailahun", map[string][]string{"Luawa": {"Kailahun Town", "Giema"}, "Jawie": {"Daru", "Gbalahun"}}},
	{"Kenema", map[string][]string{"Nongowa": {"Hangha", "Kpayama"}, "Lower Bambara": {"Panguma", "Tongo"}}},
	{"Port Loko", map[string][]string{"Maforki": {"Port Loko Town", "Masimera"}, "Koya": {"Songo", "Mathene"}}},
}

// LoadDemo writes the demo data set through the application's own command
// handlers, so it obeys every rule real data does. Every command carries an
// idempotency key, so loading it again (each `serve --demo`) writes nothing
// new and answers the same tokens.
func LoadDemo(ctx context.Context, a *app.Application, now time.Time) (Demo, error) {
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	d := demo{a: a, now: now.UTC()}
	// The demo's places are Sierra Leone's, spelt as its places list spells
	// them; with another country's list there is no demo to load.
	for _, p := range demoPlaces {
		for chiefdom := range p.chiefdoms {
			want := domain.Place{District: p.district, Chiefdom: chiefdom}
			if got, err := a.Places.ResolvePlace(want); err != nil || got != want {
				return Demo{}, fmt.Errorf("the demo data set is set in Sierra Leone's districts and chiefdoms, and the places list in use does not have %s/%s as such (%v)", p.district, chiefdom, err)
			}
		}
	}

	users := []DemoUser{{Role: domain.RoleAdmin, Name: "Admin"}}
	var first uint64
	mobilizers := map[string]app.Actor{}
	coordinators := map[string]app.Actor{}
	for _, p := range demoPlaces {
		for _, role := range []string{domain.RoleMobilizer, domain.RoleCoordinator} {
			name := fmt.Sprintf("Demo %s, %s", role, p.district)
			res, err := a.CreateUser.Handle(ctx, app.CreateUser{Meta: d.meta(admin, "user/"+role+"/"+p.district, 0),
				Name: name, Role: role, District: p.district})
			if err != nil {
				return Demo{}, fmt.Errorf("creating %s: %w", name, err)
			}
			if first == 0 {
				first = res.Position
			}
			actor := app.Actor{ID: res.ID, Role: role, Area: domain.Area{District: p.district}}
			if role == domain.RoleMobilizer {
				mobilizers[p.district] = actor
			} else {
				coordinators[p.district] = actor
			}
			if p.district == "Kenema" {
				users = append(users, DemoUser{Role: role, Name: name, Area: actor.Area, Token: res.Token})
			}
		}
	}
	res, err := a.CreateUser.Handle(ctx, app.CreateUser{Meta: d.meta(admin, "user/auditor", 0), Name: "Demo auditor", Role: domain.RoleAuditor})
	if err != nil {
		return Demo{}, fmt.Errorf("creating the auditor: %w", err)
	}
	users = append(users, DemoUser{Role: domain.RoleAuditor, Name: "Demo auditor", Token: res.Token})

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	n := 0
	for _, p := range demoPlaces {
		// In a fixed order: each community's seed is its rank, so the demo
		// is the same data set on every machine (the README's examples
		// rely on the states it gives).
		for _, chiefdom := range slices.Sorted(maps.Keys(p.chiefdoms)) {
			sections := p.chiefdoms[chiefdom]
			for si, section := range sections {
				for k := 1; k <= 2; k++ {
					n++
					id := fmt.Sprintf("%s-%s-%d%d", code(p.district), code(chiefdom), si+1, k)
					place := domain.Place{District: p.district, Chiefdom: chiefdom, Section: section}
					seed := uint64(n)
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := d.community(ctx, id, place, seed, coordinators[p.district], mobilizers[p.district]); err != nil {
							errs <- fmt.Errorf("community %s: %w", id, err)
						}
					}()
				}
			}
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return Demo{Users: users, FirstPosition: first}, errors.Join(all...)
}

func code(name string) string {
	out := []byte{}
	for i := 0; i < len(name) && len(out) < 3; i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= 'A' && c <= 'Z' {
			out = append(out, c)
		}
	}
	return string(out)
}

type demo struct {
	a   *app.Application
	now time.Time
}

// meta builds a demo command's envelope: keyed, with a request hash that
// depends on the key only, so a later run with a later clock is still the
// same request.
func (d demo) meta(actor app.Actor, key string, daysAgo float64) app.Meta {
	h := sha256.Sum256([]byte("demo/" + key))
	m := app.Meta{Actor: actor, IdempotencyKey: "demo/" + key, RequestHash: h[:]}
	if daysAgo > 0 {
		m.OccurredAt = d.now.Add(-time.Duration(daysAgo * float64(24*time.Hour))).Truncate(time.Minute)
	}
	return m
}

var demoActions = []struct{ title, category, kind string }{
	{"Hand-washing stations at the market and the school", "hygiene", "one_off"},
	{"Watch for visitors and report strangers to the chief", "surveillance", "continuous"},
	{"Call 117 for every death in the community", "safe_burial", "continuous"},
	{"By-law: no washing of bodies", "by_law", "one_off"},
	{"Build a holding shelter for sick people waiting for the ambulance", "isolation", "one_off"},
	{"Welcome back survivors at a community meeting", "stigma", "one_off"},
}

var demoConcerns = []domain.Concern{
	{Need: "basic", Text: "Quarantined households are short of food"},
	{Need: "respect", Text: "Burial teams did not speak to the family"},
	{Need: "security", Text: "Fear of the treatment centre"},
	{Need: "capacity", Text: "No transport to the health post"},
	{Need: "social_support", Text: "Orphans left without care"},
	{Need: "autonomy", Text: "Decisions taken without the chiefs"},
}

func (d demo) community(ctx context.Context, id string, place domain.Place, seed uint64, coord, mob app.Actor) error {
	rng := rand.New(rand.NewPCG(seed, 2014))
	key := func(s string) string { return id + "/" + s }
	weeks := demoWeeks
	start := float64(DemoDays)
	if _, err := d.a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: d.meta(coord, key("register"), start),
		ID: id, Name: fmt.Sprintf("%s village %s", place.Section, id[len(id)-2:]), Place: place, Population: 300 + rng.IntN(2500)}); err != nil {
		return err
	}
	if _, err := d.a.TriggerCommunity.Handle(ctx, app.TriggerCommunity{Meta: d.meta(mob, key("trigger"), start-1),
		CommunityID: id, Attendance: ptr(40 + rng.IntN(200))}); err != nil {
		return err
	}
	trust := 2 + rng.IntN(2)
	for w := 0; w < weeks; w++ {
		if rng.IntN(4) == 0 && trust < 5 {
			trust++
		}
		var concerns []domain.Concern
		if rng.IntN(3) == 0 {
			concerns = append(concerns, demoConcerns[rng.IntN(len(demoConcerns))])
		}
		kind := "follow_up"
		if w == 0 {
			kind = "initial"
		}
		if _, err := d.a.RecordVisit.Handle(ctx, app.RecordVisit{Meta: d.meta(mob, key(fmt.Sprintf("visit/%d", w)), start-2-float64(w*7)),
			CommunityID: id, Kind: kind, TrustRating: ptr(trust), Concerns: concerns}); err != nil {
			return err
		}
	}
	for i := 0; i < 3; i++ {
		act := demoActions[(int(seed)+i)%len(demoActions)]
		apID := fmt.Sprintf("%s-AP%d", id, i+1)
		due := d.now.AddDate(0, 0, -20+rng.IntN(40)).Format(time.DateOnly)
		if _, err := d.a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: d.meta(mob, key(apID), start-1),
			ID: apID, CommunityID: id, Title: act.title, Category: act.category, Kind: act.kind, DueDate: due}); err != nil {
			return err
		}
		// Most action points get under way and some are achieved, as in the
		// real campaign (85% in progress, 7% achieved after nine months).
		if rng.IntN(10) < 9 {
			if _, err := d.a.StartActionPoint.Handle(ctx, app.StartActionPoint{Meta: d.meta(mob, key(apID+"/start"), start-8),
				ID: apID, Note: "Agreed at the community meeting"}); err != nil {
				return err
			}
			if act.kind == "one_off" && rng.IntN(3) == 0 {
				if _, err := d.a.AchieveActionPoint.Handle(ctx, app.AchieveActionPoint{Meta: d.meta(mob, key(apID+"/achieve"), start-30),
					ID: apID, Evidence: "Seen on the follow-up visit"}); err != nil {
					return err
				}
			}
		}
	}
	refID := id + "-R1"
	onset := d.now.Add(-time.Duration(20+rng.IntN(20)) * 24 * time.Hour).Truncate(time.Minute)
	if _, err := d.a.RaiseReferral.Handle(ctx, app.RaiseReferral{Meta: d.meta(mob, key(refID), float64(d.now.Sub(onset).Hours()/24)-0.5),
		ID: refID, CommunityID: id, Kind: "suspected_case", Channel: "mobilizer", PersonRef: "P-" + id, SymptomOnset: onset}); err != nil {
		return err
	}
	if _, err := d.a.AcknowledgeReferral.Handle(ctx, app.AcknowledgeReferral{Meta: d.meta(coord, key(refID+"/ack"), float64(d.now.Sub(onset).Hours()/24)-0.6), ID: refID}); err != nil {
		return err
	}
	fbID := id + "-F1"
	if _, err := d.a.ReceiveFeedback.Handle(ctx, app.ReceiveFeedback{Meta: d.meta(mob, key(fbID), 14),
		ID: fbID, CommunityID: id, Type: "rumour", Text: "People say the chlorine spreads the disease", NeedCategory: "security"}); err != nil {
		return err
	}
	if _, err := d.a.ReferFeedback.Handle(ctx, app.ReferFeedback{Meta: d.meta(coord, key(fbID+"/refer"), 13), ID: fbID, To: "District health social mobilisation pillar"}); err != nil {
		return err
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
