package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietCore logs below warn at debug level while loud is false: the demo
// load runs ~500 commands through the application, whose per-command info
// lines would bury the banner that tells a newcomer what to do next. At
// --log-level debug they are all still there; warnings and errors are never
// demoted.
type quietCore struct {
	zapcore.Core
	quiet *atomic.Bool
}

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{c.Core.With(fields), c.quiet}
}

func (c quietCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.quiet.Load() && ent.Level < zapcore.WarnLevel {
		ent.Level = zapcore.DebugLevel
	}
	return c.Core.Check(ent, ce)
}

// quietWhile returns a logger like log whose lines below warn are logged at
// debug while *quiet is true.
func quietWhile(log *zap.Logger, quiet *atomic.Bool) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return quietCore{c, quiet} }))
}

// demoLoadedAt is when the demo data set was first loaded into store: the
// field time of the event at position, the demo's first write, which took
// the server's clock (a later load replays it and writes nothing). The
// demo's field times are relative to that day, not to today, once a data
// dir is reused.
func demoLoadedAt(ctx context.Context, store eventstore.Store, position uint64) (time.Time, error) {
	if position == 0 {
		return time.Time{}, fmt.Errorf("the demo's first write has no position")
	}
	evs, err := store.ReadAll(ctx, position-1, 1)
	if err != nil {
		return time.Time{}, err
	}
	if len(evs) == 0 || evs[0].Position != position {
		return time.Time{}, fmt.Errorf("no event at position %d", position)
	}
	return evs[0].Meta.OccurredAt, nil
}
