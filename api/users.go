package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

func (s *Server) mountUsers(v1 v1Routes) {
	v1.handle(http.MethodPost, "/users", s.createUser)
	v1.handle(http.MethodGet, "/users", s.listUsers)
	v1.handle(http.MethodPost, "/users/{id}/deactivate", s.deactivateUser)
	v1.handle(http.MethodPost, "/users/{id}/token", s.issueToken)
}

type createUserBody struct {
	envelope
	Name     *string `json:"name"`
	Role     *string `json:"role"`
	District *string `json:"district"`
	Chiefdom *string `json:"chiefdom"`
}

// createUser answers the new user's token once; only its hash is kept.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var b createUserBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.CreateUser.Handle(r.Context(), app.CreateUser{
		Meta: c.meta, Name: str(b.Name), Role: str(b.Role), District: str(b.District), Chiefdom: str(b.Chiefdom),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeResult(w, res, "")
}

type deactivateUserBody struct {
	envelope
	Reason *string `json:"reason"`
	Wipe   *bool   `json:"wipe"`
}

// deactivateUser ends a user's access on every replica.
func (s *Server) deactivateUser(w http.ResponseWriter, r *http.Request) {
	var b deactivateUserBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.DeactivateUser.Handle(r.Context(), app.DeactivateUser{
		Meta: c.meta, ID: mux.Vars(r)["id"], Reason: str(b.Reason), Wipe: b.Wipe != nil && *b.Wipe,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeResult(w, res, "")
}

type issueTokenBody struct {
	envelope
}

// issueToken answers the user's new token once; the old one stops working.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	var b issueTokenBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.IssueToken.Handle(r.Context(), app.IssueToken{Meta: c.meta, ID: mux.Vars(r)["id"]})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeResult(w, res, "")
}

// userItem is a user as GET /v1/users lists them: never a token or a hash.
type userItem struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Role               string     `json:"role"`
	District           string     `json:"district,omitempty"`
	Chiefdom           string     `json:"chiefdom,omitempty"`
	Active             bool       `json:"active"`
	CreatedAt          time.Time  `json:"created_at"`
	DeactivatedAt      *time.Time `json:"deactivated_at,omitempty"`
	DeactivatedBy      string     `json:"deactivated_by,omitempty"`
	DeactivationReason string     `json:"deactivation_reason,omitempty"`
	Wipe               bool       `json:"wipe,omitempty"`
	// LastSeen is when the log last recorded an event the user wrote;
	// absent for a user who never wrote one.
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// ItemsThisWeek is how many events the user wrote this ISO week (UTC).
	ItemsThisWeek int `json:"items_this_week"`
	// ItemsRefused is how many of the user's writes were refused this ISO
	// week; absent when the server keeps no refusals.
	ItemsRefused *int `json:"items_refused,omitempty"`
}

// listUsers is the admin's user list and a coordinator's list of the
// mobilizers of their area, paged by an opaque cursor.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	// The role first, so that a caller who may list nobody learns nothing
	// else; then the parameters.
	if err := app.RequireRole(actorFrom(r.Context()), "list users; admins and coordinators may", domain.RoleAdmin, domain.RoleCoordinator); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"role", "active", "cursor", "limit"}, k) {
			s.writeError(w, r, domain.FieldError(k, "is not a parameter of this route (allowed: role, active, cursor, limit)"))
			return
		}
	}
	f := app.UserFilter{Role: q.Get("role")}
	if v := q.Get("active"); v != "" {
		active, err := strconv.ParseBool(v)
		if err != nil {
			s.writeError(w, r, domain.FieldError("active", "must be true or false"))
			return
		}
		f.Active = &active
	}
	limit, err := pageLimit(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var after int32
	if v := q.Get("cursor"); v != "" {
		if after, err = decodeCursor(v); err != nil {
			s.writeError(w, r, domain.FieldError("cursor", "is not a cursor this server gave"))
			return
		}
	}
	users, next, err := s.app.Auth.ListUsers(actorFrom(r.Context()), f, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	activity, err := s.app.Activity.Of(ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]userItem, len(users))
	for i, u := range users {
		it := userItem{ID: u.ID, Name: u.Name, Role: u.Role, District: u.Area.District, Chiefdom: u.Area.Chiefdom,
			Active: u.Active, CreatedAt: u.CreatedAt.UTC(), DeactivatedBy: u.DeactivatedBy,
			DeactivationReason: u.DeactivationReason, Wipe: u.Wipe}
		if !u.DeactivatedAt.IsZero() {
			t := u.DeactivatedAt.UTC()
			it.DeactivatedAt = &t
		}
		act := activity[u.ID]
		if t := act.LastSeen; !t.IsZero() {
			t = t.UTC()
			it.LastSeen = &t
		}
		it.ItemsThisWeek = act.ItemsThisWeek
		if n := act.ItemsRefused; n >= 0 {
			it.ItemsRefused = &n
		}
		items[i] = it
	}
	resp := struct {
		Items      []userItem `json:"items"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Items: items}
	if next != 0 {
		resp.NextCursor = encodeCursor(next)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}
