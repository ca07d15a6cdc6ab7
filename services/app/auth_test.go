package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAuthenticateHashAnswersAsAuthenticate: the web console keeps only a
// token's hash and checks it on every request; it must get the same actor,
// or the same refusal, as the bearer token itself gets — including a user
// created through another replica after this one started.
func TestAuthenticateHashAnswersAsAuthenticate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := app.HashToken("the-admin-token-0123")
	newApp := func() *app.Application {
		a, err := app.New(app.Config{Store: f.store, Clock: func() time.Time { return f.now }, Registerer: prometheus.NewRegistry(),
			TokenSecret: []byte("s"), AdminTokenHash: admin})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	reader, writer := newApp(), newApp()
	res := must(t)(writer.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}},
		Name: "Fatmata", Role: domain.RoleCoordinator, District: "Kenema"}))

	tests := []struct {
		name, token string
		want        app.Actor
		wantErr     domain.Code
	}{
		{name: "admin", token: "the-admin-token-0123", want: app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}},
		{name: "a user created on another replica", token: res.Token, want: app.Actor{ID: res.ID, Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema"}}},
		{name: "an unknown token", token: "alt_unknown", wantErr: domain.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			byHash, errHash := reader.Auth.AuthenticateHash(ctx, app.HashToken(tc.token))
			byToken, errToken := reader.Auth.Authenticate(ctx, tc.token)
			if domain.ErrorCode(errHash) != domain.ErrorCode(errToken) || byHash != byToken {
				t.Errorf("by hash %+v, %v; by token %+v, %v", byHash, errHash, byToken, errToken)
			}
			if tc.wantErr != "" {
				if domain.ErrorCode(errHash) != tc.wantErr {
					t.Errorf("error %v, want %s", errHash, tc.wantErr)
				}
				return
			}
			if errHash != nil || byHash != tc.want {
				t.Errorf("by hash %+v, %v; want %+v", byHash, errHash, tc.want)
			}
		})
	}
}
