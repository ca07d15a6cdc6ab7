package projections

import (
	"github.com/ThreeDotsLabs/watermill"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

// write logs msg at lvl. The level is checked before the fields are
// converted: Watermill traces every message of every read model, and
// building fields that debug level then drops cost an allocation per field
// for each event and each model.
func (z zapAdapter) write(lvl zapcore.Level, msg string, f watermill.LogFields, extra ...zap.Field) {
	if ce := z.log.Check(lvl, msg); ce != nil {
		ce.Write(append(fields(f), extra...)...)
	}
}

func (z zapAdapter) Error(msg string, err error, f watermill.LogFields) {
	z.write(zapcore.ErrorLevel, msg, f, zap.Error(err))
}
func (z zapAdapter) Info(msg string, f watermill.LogFields)  { z.write(zapcore.InfoLevel, msg, f) }
func (z zapAdapter) Debug(msg string, f watermill.LogFields) { z.write(zapcore.DebugLevel, msg, f) }
func (z zapAdapter) Trace(msg string, f watermill.LogFields) { z.write(zapcore.DebugLevel, msg, f) }
func (z zapAdapter) With(f watermill.LogFields) watermill.LoggerAdapter {
	return zapAdapter{log: z.log.With(fields(f)...)}
}
