package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/places"
	"github.com/prometheus/client_golang/prometheus"
)

// TestPlacesChecked: an application built without a places list (as every
// caller before the list was) checks against Sierra Leone's, refuses
// unknown places naming the field, and stores the list's spelling.
func TestPlacesChecked(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	ctx := context.Background()
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	national := app.Actor{ID: "u-nat", Role: domain.RoleCoordinator}
	tests := []struct {
		name  string
		run   func() (app.Result, error)
		field string
	}{
		{"community_in_atlantis", func() (app.Result, error) {
			return a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: national}, ID: "X1", Name: "X",
				Place: domain.Place{District: "Atlantis", Chiefdom: "Nongowa"}})
		}, "district"},
		{"community_in_nongwa", func() (app.Result, error) {
			return a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: coordinator}, ID: "X2", Name: "X",
				Place: domain.Place{District: "Kenema", Chiefdom: "Nongwa"}})
		}, "chiefdom"},
		{"user_in_kenama", func() (app.Result, error) {
			return a.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: admin}, Name: "M", Role: domain.RoleMobilizer, District: "Kenama"})
		}, "district"},
		{"user_chiefdom_without_district", func() (app.Result, error) {
			return a.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: admin}, Name: "M", Role: domain.RoleCoordinator, Chiefdom: "Nongowa"})
		}, "district"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.run()
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != tt.field {
				t.Fatalf("err %v, want invalid_input on %s", err, tt.field)
			}
		})
	}

	must(t)(a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: coordinator}, ID: "C1", Name: "Kpayama",
		Place: domain.Place{District: " KENEMA", Chiefdom: "nongowa "}}))
	v, err := a.Queries.Community(ctx, coordinator, "C1")
	if err != nil || v.Place.District != "Kenema" || v.Place.Chiefdom != "Nongowa" {
		t.Errorf("stored place %+v, %v; want Kenema/Nongowa", v.Place, err)
	}
	res := must(t)(a.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: admin}, Name: "M", Role: domain.RoleMobilizer,
		District: "kenema", Chiefdom: "LOWER bambara"}))
	user, err := a.Auth.Authenticate(ctx, res.Token)
	if err != nil || user.Area != (domain.Area{District: "Kenema", Chiefdom: "Lower Bambara"}) {
		t.Errorf("user area %+v, %v; want Kenema/Lower Bambara", user.Area, err)
	}
}

// TestPlacesInjected: an application given another list checks against it
// and serves it, scoped to the caller's area.
func TestPlacesInjected(t *testing.T) {
	f := newFixture(t)
	pl, err := places.Parse(strings.NewReader("district_code,district,chiefdom_code,chiefdom\nN1,North,N1-01,Hilltop\nN1,North,N1-02,Riverside\nS1,South,S1-01,Coast\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Config{Store: f.store, Clock: func() time.Time { return f.now }, Registerer: prometheus.NewRegistry(), Places: pl})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	north := app.Actor{ID: "u-n", Role: domain.RoleCoordinator, Area: domain.Area{District: "North"}}
	must(t)(a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: north}, ID: "N1", Name: "V",
		Place: domain.Place{District: "north", Chiefdom: "riverside"}}))
	if _, err := a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: coordinator}, ID: "K1", Name: "V",
		Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("Kenema under another country's list: %v, want invalid_input", err)
	}
	for _, tc := range []struct {
		name   string
		actor  app.Actor
		want   int // districts
		chiefs int // of the first
		err    domain.Code
	}{
		{"national", app.Actor{ID: "a", Role: domain.RoleAuditor}, 2, 2, ""},
		{"district", north, 1, 2, ""},
		{"chiefdom", app.Actor{ID: "m", Role: domain.RoleMobilizer, Area: domain.Area{District: "North", Chiefdom: "Hilltop"}}, 1, 1, ""},
		{"no_role", app.Actor{ID: "x", Role: "visitor"}, 0, 0, domain.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := a.PlaceTree(tc.actor)
			if domain.ErrorCode(err) != tc.err {
				t.Fatalf("err %v, want code %q", err, tc.err)
			}
			if err == nil && (len(tree) != tc.want || len(tree[0].Chiefdoms) != tc.chiefs) {
				t.Errorf("tree %+v, want %d districts, %d chiefdoms in the first", tree, tc.want, tc.chiefs)
			}
		})
	}
}
