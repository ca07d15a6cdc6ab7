package app_test

import (
	"context"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// The write path keeps the users directory folded between commands. These
// steps alternate two replicas over one store, so each replica's kept
// directory falls behind the other's writes, and mix in refused commands,
// after which a kept directory must not carry what was refused.
func TestUsersDirectoryAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	b, _ := f.replica(t)
	ctx := context.Background()
	ids := map[string]string{}
	create := func(on *app.Application, name, role string) (app.Result, error) {
		res, err := on.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: adminActor}, Name: name, Role: role, District: "Kenema"})
		if err == nil {
			ids[name] = res.ID
		}
		return res, err
	}
	deactivate := func(on *app.Application, name string) (app.Result, error) {
		return on.DeactivateUser.Handle(ctx, app.DeactivateUser{Meta: app.Meta{Actor: adminActor}, ID: ids[name], Reason: "phone lost"})
	}
	token := func(on *app.Application, name string) (app.Result, error) {
		return on.IssueToken.Handle(ctx, app.IssueToken{Meta: app.Meta{Actor: adminActor}, ID: ids[name]})
	}
	steps := []struct {
		name     string
		do       func() (app.Result, error)
		wantCode domain.Code // "" for success
		revision uint64      // of the users stream after a success
	}{
		{"a creates u1", func() (app.Result, error) { return create(a, "u1", domain.RoleMobilizer) }, "", 1},
		{"b creates u2", func() (app.Result, error) { return create(b, "u2", domain.RoleMobilizer) }, "", 2},
		{"a deactivates b's user", func() (app.Result, error) { return deactivate(a, "u2") }, "", 3},
		{"b sees a's deactivation", func() (app.Result, error) { return token(b, "u2") }, domain.CodeTransition, 0},
		{"a refuses its own repeat", func() (app.Result, error) { return deactivate(a, "u2") }, domain.CodeTransition, 0},
		{"a refuses a bad role", func() (app.Result, error) { return create(a, "u3", "chief") }, domain.CodeInvalid, 0},
		{"a writes after a refusal", func() (app.Result, error) { return token(a, "u1") }, "", 4},
		{"b deactivates a's user", func() (app.Result, error) { return deactivate(b, "u1") }, "", 5},
		{"a sees b's deactivation", func() (app.Result, error) { return token(a, "u1") }, domain.CodeTransition, 0},
		{"a creates u4", func() (app.Result, error) { return create(a, "u4", domain.RoleCoordinator) }, "", 6},
		{"b gives a's new user a token", func() (app.Result, error) { return token(b, "u4") }, "", 7},
	}
	for _, s := range steps {
		res, err := s.do()
		if s.wantCode != "" {
			if got := domain.ErrorCode(err); got != s.wantCode {
				t.Fatalf("%s: %v (code %q), want code %q", s.name, err, got, s.wantCode)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Revision != s.revision {
			t.Fatalf("%s: users stream at revision %d, want %d", s.name, res.Revision, s.revision)
		}
	}
	// The token b issued last signs u4 in on a, and u1, switched off on b,
	// is refused there.
	res, err := b.IssueToken.Handle(ctx, app.IssueToken{Meta: app.Meta{Actor: adminActor}, ID: ids["u4"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Auth.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if actor, err := a.Auth.Authenticate(ctx, res.Token); err != nil || actor.ID != ids["u4"] {
		t.Errorf("u4's new token on a: %v %v", actor, err)
	}
}
