package app_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

var admin = app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}

// userFixture creates, through a, a coordinator of Kenema, a mobilizer of
// Kenema, a mobilizer of Kailahun and a national coordinator, and returns
// their actors and tokens by name.
func userFixture(t *testing.T, a *app.Application) (map[string]app.Actor, map[string]string) {
	t.Helper()
	actors, tokens := map[string]app.Actor{}, map[string]string{}
	for _, u := range []struct{ name, role, district string }{
		{"coord-ken", domain.RoleCoordinator, "Kenema"},
		{"mob-ken", domain.RoleMobilizer, "Kenema"},
		{"mob-kai", domain.RoleMobilizer, "Kailahun"},
		{"coord-nat", domain.RoleCoordinator, ""},
	} {
		res := must(t)(a.CreateUser.Handle(context.Background(), app.CreateUser{Meta: app.Meta{Actor: admin},
			Name: u.name, Role: u.role, District: u.district}))
		actors[u.name] = app.Actor{ID: res.ID, Role: u.role, Area: domain.Area{District: u.district}}
		tokens[u.name] = res.Token
	}
	return actors, tokens
}

func TestDeactivateUserWhoMay(t *testing.T) {
	cases := []struct {
		name   string
		by     string // "" is the admin
		target string
		want   error
	}{
		{"admin_a_mobilizer", "", "mob-kai", nil},
		{"admin_a_coordinator", "", "coord-ken", nil},
		{"coordinator_mobilizer_of_own_area", "coord-ken", "mob-ken", nil},
		{"national_coordinator_any_mobilizer", "coord-nat", "mob-kai", nil},
		{"coordinator_mobilizer_of_another_area", "coord-ken", "mob-kai", domain.ErrForbidden},
		{"coordinator_a_coordinator", "coord-ken", "coord-nat", domain.ErrForbidden},
		{"coordinator_themselves", "coord-ken", "coord-ken", domain.ErrForbidden},
		{"mobilizer_a_mobilizer", "mob-ken", "mob-kai", domain.ErrForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newFixture(t).replica(t)
			actors, tokens := userFixture(t, a)
			by := admin
			if tc.by != "" {
				by = actors[tc.by]
			}
			target := actors[tc.target]
			_, err := a.DeactivateUser.Handle(context.Background(), app.DeactivateUser{Meta: app.Meta{Actor: by}, ID: target.ID, Reason: "phone lost", Wipe: true})
			_, authErr := a.Auth.Authenticate(context.Background(), tokens[tc.target])
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("deactivate: %v; want %v", err, tc.want)
				}
				if authErr != nil {
					t.Errorf("a refused deactivation still switched the user off: %v", authErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("deactivate: %v", err)
			}
			var de *domain.DeactivatedError
			if !errors.As(authErr, &de) || de.Reason != "phone lost" || !de.Wipe {
				t.Errorf("the token after deactivation: %v; want a DeactivatedError with the reason and wipe", authErr)
			}
		})
	}
	t.Run("issue_token_same_rule", func(t *testing.T) {
		a, _ := newFixture(t).replica(t)
		actors, _ := userFixture(t, a)
		_, err := a.IssueToken.Handle(context.Background(), app.IssueToken{Meta: app.Meta{Actor: actors["coord-ken"]}, ID: actors["mob-kai"].ID})
		if !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("coordinator of Kenema gave a Kailahun mobilizer a token: %v", err)
		}
		_, err = a.IssueToken.Handle(context.Background(), app.IssueToken{Meta: app.Meta{Actor: actors["coord-ken"]}, ID: actors["coord-nat"].ID})
		if !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("coordinator gave a coordinator a token: %v", err)
		}
	})
}

func TestIssueTokenReplacesTheOldOne(t *testing.T) {
	a, _ := newFixture(t).replica(t)
	actors, tokens := userFixture(t, a)
	ctx := context.Background()
	key := app.Meta{Actor: actors["coord-ken"], IdempotencyKey: "rotate-1", RequestHash: hash("rotate-1")}
	res := must(t)(a.IssueToken.Handle(ctx, app.IssueToken{Meta: key, ID: actors["mob-ken"].ID}))
	if res.Token == "" || res.Token == tokens["mob-ken"] {
		t.Fatalf("new token %q", res.Token)
	}
	if _, err := a.Auth.Authenticate(ctx, tokens["mob-ken"]); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("old token after rotation: %v; want unauthenticated", err)
	}
	got, err := a.Auth.Authenticate(ctx, res.Token)
	if err != nil || got.ID != actors["mob-ken"].ID {
		t.Errorf("new token: %+v, %v", got, err)
	}
	if err := a.Auth.Recheck(got, app.HashToken(tokens["mob-ken"])); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("recheck of an actor signed in with the old token: %v; want unauthenticated", err)
	}
	if err := a.Auth.Recheck(got, app.HashToken(res.Token)); err != nil {
		t.Errorf("recheck with the new token: %v", err)
	}

	again := must(t)(a.IssueToken.Handle(ctx, app.IssueToken{Meta: key, ID: actors["mob-ken"].ID}))
	if !again.Replayed || again.Token != res.Token {
		t.Errorf("repeat with the same key: replayed %v, same token %v", again.Replayed, again.Token == res.Token)
	}
	// A later rotation makes the first one's token stale: its repeat must
	// not hand out a token that no longer works.
	must(t)(a.IssueToken.Handle(ctx, app.IssueToken{Meta: app.Meta{Actor: admin}, ID: actors["mob-ken"].ID}))
	if _, err := a.IssueToken.Handle(ctx, app.IssueToken{Meta: key, ID: actors["mob-ken"].ID}); !errors.Is(err, domain.ErrTransition) {
		t.Errorf("repeat after a later rotation: %v; want a conflict", err)
	}
}

// A deactivation through one replica reaches another that follows the
// users stream, even for a token it knows (no refresh-on-miss).
func TestDeactivationReachesAnotherReplica(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	b, _ := f.replica(t)
	actors, tokens := userFixture(t, a)
	ctx := context.Background()
	if _, err := b.Auth.Authenticate(ctx, tokens["mob-ken"]); err != nil {
		t.Fatalf("b before: %v", err)
	}
	must(t)(a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: actors["mob-ken"].ID, Reason: "left the programme"}))
	if _, err := b.Auth.Authenticate(ctx, tokens["mob-ken"]); err != nil {
		t.Fatalf("b has not refreshed yet, and a known token is served from memory: %v", err)
	}
	if err := b.Auth.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := b.Auth.Authenticate(ctx, tokens["mob-ken"])
	var de *domain.DeactivatedError
	if !errors.As(err, &de) || de.Reason != "left the programme" || de.Wipe {
		t.Errorf("b after following the stream: %v", err)
	}
	if err := b.Auth.Recheck(actors["mob-ken"], nil); !errors.As(err, &de) {
		t.Errorf("recheck of the deactivated actor: %v", err)
	}
}

func TestDeactivateTwiceAndTheAdmin(t *testing.T) {
	a, _ := newFixture(t).replica(t)
	actors, _ := userFixture(t, a)
	ctx := context.Background()
	must(t)(a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: actors["mob-kai"].ID, Reason: "lost"}))
	if _, err := a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: actors["mob-kai"].ID, Reason: "lost"}); !errors.Is(err, domain.ErrTransition) {
		t.Errorf("second deactivation: %v; want a conflict", err)
	}
	if _, err := a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: app.AdminActorID, Reason: "x"}); !errors.Is(err, domain.ErrTransition) {
		t.Errorf("deactivating the admin token: %v; want a conflict", err)
	}
	if _, err := a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: "nobody", Reason: "x"}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown user: %v; want not found", err)
	}
	if _, err := a.IssueToken.Handle(ctx, app.IssueToken{Meta: app.Meta{Actor: admin}, ID: actors["mob-kai"].ID}); !errors.Is(err, domain.ErrTransition) {
		t.Errorf("a token for a deactivated user: %v; want a conflict", err)
	}
}

func TestListUsers(t *testing.T) {
	a, _ := newFixture(t).replica(t)
	actors, _ := userFixture(t, a)
	ctx := context.Background()
	must(t)(a.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: admin}, ID: actors["mob-kai"].ID, Reason: "lost"}))
	ids := func(us []app.UserView) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	yes, no := true, false
	cases := []struct {
		name string
		by   app.Actor
		f    app.UserFilter
		want []string
		err  error
	}{
		{"admin_all_in_creation_order", admin, app.UserFilter{}, []string{actors["coord-ken"].ID, actors["mob-ken"].ID, actors["mob-kai"].ID, actors["coord-nat"].ID}, nil},
		{"admin_mobilizers", admin, app.UserFilter{Role: "mobilizer"}, []string{actors["mob-ken"].ID, actors["mob-kai"].ID}, nil},
		{"admin_active_mobilizers", admin, app.UserFilter{Role: "mobilizer", Active: &yes}, []string{actors["mob-ken"].ID}, nil},
		{"admin_deactivated", admin, app.UserFilter{Active: &no}, []string{actors["mob-kai"].ID}, nil},
		{"coordinator_own_mobilizers", actors["coord-ken"], app.UserFilter{}, []string{actors["mob-ken"].ID}, nil},
		{"national_coordinator_every_mobilizer", actors["coord-nat"], app.UserFilter{}, []string{actors["mob-ken"].ID, actors["mob-kai"].ID}, nil},
		{"coordinator_asks_for_coordinators", actors["coord-ken"], app.UserFilter{Role: "coordinator"}, nil, domain.ErrForbidden},
		{"mobilizer", actors["mob-ken"], app.UserFilter{}, nil, domain.ErrForbidden},
		{"auditor", app.Actor{ID: "aud", Role: domain.RoleAuditor}, app.UserFilter{}, nil, domain.ErrForbidden},
		{"unknown_role", admin, app.UserFilter{Role: "chief"}, nil, domain.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := a.Auth.ListUsers(tc.by, tc.f, 0, 100)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v; want %v", err, tc.err)
				}
				return
			}
			if err != nil || next != 0 {
				t.Fatalf("err %v, next %d", err, next)
			}
			if g := ids(got); !slices.Equal(g, tc.want) {
				t.Errorf("ids %v; want %v", g, tc.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var all []string
		var after int32
		for range 10 {
			page, next, err := a.Auth.ListUsers(admin, app.UserFilter{}, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids(page)...)
			if next == 0 {
				break
			}
			after = next
		}
		if len(all) != 4 {
			t.Errorf("paged through %v; want the 4 users once each", all)
		}
	})
	t.Run("deactivation_shown", func(t *testing.T) {
		got, _, _ := a.Auth.ListUsers(admin, app.UserFilter{Active: &no}, 0, 10)
		if len(got) != 1 || got[0].Active || got[0].DeactivationReason != "lost" || got[0].DeactivatedBy != app.AdminActorID || got[0].DeactivatedAt.IsZero() || got[0].CreatedAt.IsZero() {
			t.Errorf("deactivated user shown as %+v", got)
		}
	})
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
