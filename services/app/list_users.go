package app

import (
	"slices"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// UserView is a user as the users list shows them: never a token or its
// hash.
type UserView struct {
	ID                 string
	Name               string
	Role               string
	Area               domain.Area
	Active             bool
	CreatedAt          time.Time
	DeactivatedAt      time.Time
	DeactivatedBy      string
	DeactivationReason string
	Wipe               bool
}

// UserFilter selects users; zero values select all.
type UserFilter struct {
	Role   string
	Active *bool
}

// ListUsers answers the users an actor may manage, in the order they were
// created, after the after-th (0: from the first), at most limit of them; next is
// the cursor of the following page, 0 when there is none. An admin sees
// everyone; a coordinator the mobilizers of their area; anyone else is
// refused. It reads the in-memory directory, never the log.
func (a *Authenticator) ListUsers(actor Actor, f UserFilter, after int32, limit int) (users []UserView, next int32, err error) {
	if err := requireRole(actor, "list users; admins and coordinators may", domain.RoleAdmin, domain.RoleCoordinator); err != nil {
		return nil, 0, err
	}
	if f.Role != "" && !slices.Contains([]string{domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin}, f.Role) {
		return nil, 0, domain.FieldError("role", "must be one of mobilizer, coordinator, auditor, admin")
	}
	if actor.Role == domain.RoleCoordinator && f.Role != "" && f.Role != domain.RoleMobilizer {
		return nil, 0, domain.Errorf(domain.CodeForbidden, "a coordinator lists only the mobilizers of their area")
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	all := a.dir.Users()
	type seqUser struct {
		seq int32
		u   domain.User
	}
	picked := make([]seqUser, 0, len(all))
	for _, u := range all {
		m := a.meta[u.ID]
		switch {
		case m == nil || m.seq <= after:
		case actor.Role == domain.RoleCoordinator && (u.Role != domain.RoleMobilizer || !actor.Area.Covers(u.Area)):
		case f.Role != "" && u.Role != f.Role:
		case f.Active != nil && *f.Active == u.Deactivated:
		default:
			picked = append(picked, seqUser{m.seq, u})
		}
	}
	slices.SortFunc(picked, func(x, y seqUser) int { return int(x.seq - y.seq) })
	if len(picked) > limit {
		picked, next = picked[:limit], picked[limit-1].seq
	}
	users = make([]UserView, len(picked))
	for i, p := range picked {
		m := a.meta[p.u.ID]
		users[i] = UserView{ID: p.u.ID, Name: p.u.Name, Role: p.u.Role, Area: p.u.Area, Active: !p.u.Deactivated,
			CreatedAt: m.createdAt, DeactivatedAt: m.deactivatedAt, DeactivatedBy: m.deactivatedBy,
			DeactivationReason: p.u.DeactivateReason, Wipe: p.u.Wipe}
	}
	return users, next, nil
}
