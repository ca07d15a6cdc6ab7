package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/backlog"
)

// Executor runs one write through the route its path names, as actor, in
// process (api.Server has it). The importer holds no copy of any route: every
// item is checked, decided and answered exactly as the same request over
// HTTP would be.
type Executor interface {
	Execute(ctx context.Context, actor app.Actor, method, path, key, ifMatch string, body []byte) (status int, answer []byte, replayed bool)
}

// execute runs it and turns the route's answer back into a result or the
// error the route answered. The id the route answered is decoded only when
// wanted (a user's, for the items that name them): for the million items
// after them it is never read.
func (run *runner) execute(ctx context.Context, actor app.Actor, it backlog.Item, wantID bool) (app.Result, error) {
	status, answer, replayed := run.cfg.Exec.Execute(ctx, actor, it.Method, it.Path, it.Key, it.IfMatch, it.Body)
	if status/100 == 2 {
		if !wantID {
			return app.Result{Replayed: replayed}, nil
		}
		var w struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(answer, &w)
		return app.Result{ID: w.ID, Replayed: replayed}, nil
	}
	var p struct {
		Code   string `json:"code"`
		Field  string `json:"field"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(answer, &p); err != nil || p.Code == "" {
		return app.Result{}, fmt.Errorf("%s %s answered %d: %s", it.Method, it.Path, status, answer)
	}
	if status >= http.StatusInternalServerError {
		// The import's own failure (the store), not the item's: stop.
		return app.Result{}, fmt.Errorf("%s %s answered %d %s: %s", it.Method, it.Path, status, p.Code, p.Detail)
	}
	return app.Result{}, &domain.Error{Code: domain.Code(p.Code), Field: p.Field, Message: p.Detail}
}
