package projections

import (
	"github.com/ThreeDotsLabs/watermill"
	"go.uber.org/zap"
)

// zapAdapter lets Watermill log through the service's zap logger.
type zapAdapter struct {
	log *zap.Logger
}

// NewWatermillLogger adapts a zap logger to Watermill. Watermill's debug and
// trace lines (one per message) go to zap's debug level.
func NewWatermillLogger(log *zap.Logger) watermill.LoggerAdapter { return zapAdapter{log: log} }

func fields(f watermill.LogFields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (z zapAdapter) Error(msg string, err error, f watermill.LogFields) {
	z.log.Error(msg, append(fields(f), zap.Error(err))...)
}
func (z zapAdapter) Info(msg string, f watermill.LogFields)  { z.log.Info(msg, fields(f)...) }
func (z zapAdapter) Debug(msg string, f watermill.LogFields) { z.log.Debug(msg, fields(f)...) }
func (z zapAdapter) Trace(msg string, f watermill.LogFields) { z.log.Debug(msg, fields(f)...) }
func (z zapAdapter) With(f watermill.LogFields) watermill.LoggerAdapter {
	return zapAdapter{log: z.log.With(fields(f)...)}
}
