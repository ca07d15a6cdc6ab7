package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/actionledger/actionledger/services/eventstore"
	"go.uber.org/zap"
)

// GET /v1/admin/backup streams a consistent copy of the embedded store's
// file while the server keeps taking writes: only the serving process may
// open the file, so a backup of a running server goes through here
// (`actionledger backup --server`). The copy's head is in the headers,
// before the body, so the client can check what it received.

func (s *Server) mountBackup(v1 v1Routes, b eventstore.Backupper) {
	v1.handle(http.MethodGet, "/admin/backup", func(w http.ResponseWriter, r *http.Request) {
		if err := requireAdmin(actorFrom(r.Context())); err != nil {
			s.writeError(w, r, err)
			return
		}
		started := false
		info, err := b.Backup(r.Context(), func(info eventstore.BackupInfo) (io.Writer, error) {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", `attachment; filename="events-`+strconv.FormatUint(info.Position, 10)+`.db"`)
			h.Set("Content-Length", strconv.FormatInt(info.Bytes, 10))
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set(HeaderBackupPosition, strconv.FormatUint(info.Position, 10))
			h.Set(HeaderBackupEvents, strconv.FormatUint(info.Events, 10))
			h.Set(HeaderBackupHeadHash, info.HeadHash)
			w.WriteHeader(http.StatusOK)
			started = true
			return w, nil
		})
		if err != nil {
			if !started {
				s.writeError(w, r, err)
				return
			}
			// The body is cut short of its Content-Length: the client
			// sees an incomplete copy, never a complete-looking one.
			s.log.Warn("backup stopped", zap.String("request_id", requestID(r.Context())), zap.Error(err))
			return
		}
		s.log.Info("backup taken", zap.String("request_id", requestID(r.Context())), zap.Uint64("position", info.Position),
			zap.String("head_hash", info.HeadHash), zap.Int64("bytes", info.Bytes))
	})
}

// Headers of a backup: its head, as `audit verify` reports it for the copy.
const (
	HeaderBackupPosition = "X-Backup-Position"
	HeaderBackupEvents   = "X-Backup-Events"
	HeaderBackupHeadHash = "X-Backup-Head-Hash"
)
