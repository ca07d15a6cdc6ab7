package app_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/app"
	"github.com/google/uuid"
)

// The ids of events written under an idempotency key are stored: a retry
// finds its first write by them, so they must stay what uuid.NewSHA1 of
// (actor NUL key NUL n) gave when they were written.
func TestEventIDIsNameBasedSHA1(t *testing.T) {
	tests := []struct {
		name, actor, key string
		n                int
	}{
		{name: "first event", actor: "u-1", key: "SL050103-0055/5", n: 0},
		{name: "later event", actor: "0b6e7f1c-4a51-4c3e-9f4e-1f3a2b4c5d6e", key: "k", n: 12},
		{name: "empty key", actor: "u-1", key: "", n: 1},
		{name: "name longer than the stack buffer", actor: strings.Repeat("a", 150), key: strings.Repeat("k", 200), n: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := uuid.NewSHA1(app.IDNamespace, []byte(tc.actor+"\x00"+tc.key+"\x00"+strconv.Itoa(tc.n)))
			if got := app.EventID(tc.actor, tc.key, tc.n); got != want {
				t.Fatalf("EventID(%q, %q, %d) = %s, want %s", tc.actor, tc.key, tc.n, got, want)
			}
		})
	}
}

// A create under a key names the same aggregate when it is repeated, and
// the one stored already: the id stays uuid.NewSHA1 of (actor NUL key NUL "id").
func TestDerivedIDIsNameBasedSHA1(t *testing.T) {
	m := &app.Meta{Actor: app.Actor{ID: "u-7"}, IdempotencyKey: "SL050103-0055/1"}
	want := uuid.NewSHA1(app.IDNamespace, []byte("u-7\x00SL050103-0055/1\x00id")).String()
	if got := app.DerivedID(m); got != want {
		t.Fatalf("derived id %s, want %s", got, want)
	}
}
