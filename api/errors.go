package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"go.uber.org/zap"
)

// HTTP-only error codes, next to the domain's.
const (
	codeBodyTooLarge     domain.Code = "body_too_large"
	codeUnsupportedMedia domain.Code = "unsupported_media_type"
	codeMethodNotAllowed domain.Code = "method_not_allowed"
	codeRouteNotFound    domain.Code = "route_not_found"
	codeNotReady         domain.Code = "not_ready"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[domain.Code]int{
	domain.CodeInvalid:             http.StatusBadRequest,
	domain.CodeUnauthenticated:     http.StatusUnauthorized,
	domain.CodeUserDeactivated:     http.StatusUnauthorized,
	domain.CodeForbidden:           http.StatusForbidden,
	domain.CodeNotFound:            http.StatusNotFound,
	codeRouteNotFound:              http.StatusNotFound,
	codeMethodNotAllowed:           http.StatusMethodNotAllowed,
	domain.CodeAlreadyExists:       http.StatusConflict,
	domain.CodeTransition:          http.StatusConflict,
	domain.CodeStaleRevision:       http.StatusPreconditionFailed,
	codeBodyTooLarge:               http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:           http.StatusUnsupportedMediaType,
	domain.CodeIdempotencyMismatch: http.StatusUnprocessableEntity,
	domain.CodeInternal:            http.StatusInternalServerError,
	domain.CodeUnavailable:         http.StatusServiceUnavailable,
	codeNotReady:                   http.StatusServiceUnavailable,
	codeBehind:                     http.StatusServiceUnavailable,
	codeSyncNotRun:                 http.StatusServiceUnavailable,
	codeOverloaded:                 http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem details object, with actionledger's stable
// code and, for bad input, the field at fault.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Code     string `json:"code"`
	Detail   string `json:"detail,omitempty"`
	Field    string `json:"field,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Reason and Wipe come with user_deactivated: why the user was
	// switched off, and whether their phone should erase its local data.
	Reason string `json:"reason,omitempty"`
	Wipe   *bool  `json:"wipe,omitempty"`
	// Suggestions (an extension member) are the values the field was
	// probably meant to hold, best first: "did you mean Nongowa?".
	Suggestions []string `json:"suggestions,omitempty"`
}

// problemFor turns any error into the problem the client sees. Internal
// errors get a generic detail: their text may name files or stores.
func problemFor(err error, instance string) Problem {
	code := domain.ErrorCode(err)
	timedOut := code == domain.CodeInternal && errors.Is(err, context.DeadlineExceeded)
	if timedOut {
		code = domain.CodeUnavailable
	}
	status, ok := statusOf[code]
	if !ok {
		code, status = domain.CodeInternal, http.StatusInternalServerError
	}
	p := Problem{
		Type:     "urn:actionledger:problem:" + string(code),
		Title:    http.StatusText(status),
		Status:   status,
		Code:     string(code),
		Instance: instance,
	}
	// Only the domain's own messages reach the client: anything else may
	// name stores, files or hosts.
	var de *domain.Error
	var deactivated *domain.DeactivatedError
	if errors.As(err, &deactivated) {
		p.Reason, p.Wipe = deactivated.Reason, &deactivated.Wipe
	}
	switch {
	case timedOut:
		p.Detail = "the service did not answer in time; retry"
	case code == domain.CodeInternal:
		p.Detail = "internal error; the request id in the logs identifies it"
	case errors.As(err, &de):
		p.Detail, p.Field, p.Suggestions = de.Message, de.Field, de.Suggestions
	default:
		p.Detail = http.StatusText(status)
	}
	return p
}

// writeError answers err as problem+json and logs internal errors.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err, r.URL.Path)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away (a dropped 2G link): nothing to alert on.
		s.log.Info("request cancelled by the client", zap.String("request_id", requestID(r.Context())))
	} else if p.Code == string(codeBehind) || p.Code == string(codeNotReady) {
		// Any caller can ask for a position not yet reached: it says the
		// read side lags (its own metrics tell by how much), not that a
		// request failed on the server.
		s.log.Info("read models behind the request", zap.String("request_id", requestID(r.Context())), zap.String("code", p.Code))
	} else if p.Status >= 500 {
		s.log.Error("request failed", zap.String("request_id", requestID(r.Context())), zap.String("code", p.Code), zap.Error(err))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="actionledger"`)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
