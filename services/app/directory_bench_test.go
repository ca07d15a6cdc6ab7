package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkCreateUser creates a user in a directory that already holds
// existing users. The directory is one aggregate over every user, so this
// is what a national set of mobilizers (2,500 at CLEA scale, 25,000 at ten
// times) costs per new user: flat when the folded directory is kept, linear
// in existing (and n² over an import) when it is folded again each time.
//
//	go test -run '^$' -bench CreateUser -benchtime 2000x ./services/app/
//
// The store sits on /dev/shm where there is one, so that the figure is the
// write path's work and not the disk's fsync.
func BenchmarkCreateUser(b *testing.B) {
	for _, existing := range []int{2_000, 20_000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			dir := b.TempDir()
			if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
				if dir, err = os.MkdirTemp("/dev/shm", "actionledger-bench-"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			s, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			now := time.Date(2015, 2, 10, 12, 0, 0, 0, time.UTC)
			a, err := app.New(app.Config{Store: s, Clock: func() time.Time { return now }, Registerer: prometheus.NewRegistry(), TokenSecret: []byte("s")})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			create := func(i int) {
				if _, err := a.CreateUser.Handle(ctx, app.CreateUser{Meta: app.Meta{Actor: adminActor, IdempotencyKey: fmt.Sprintf("u%d", i)},
					Name: "Mobilizer", Role: domain.RoleMobilizer, District: "Kenema"}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range existing {
				create(i)
			}
			b.ResetTimer()
			for i := range b.N {
				create(existing + i)
			}
		})
	}
}
