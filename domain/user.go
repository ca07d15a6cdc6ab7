package domain

import (
	"time"

	"github.com/actionledger/actionledger/domain/wire"
)

// UsersStream is the one stream that holds the user directory. Users are few
// (thousands) and created rarely, and every replica needs all of them to
// authenticate, so one stream read from the start is the cheapest index.
const UsersStream = "users"

// User is a person with a role and an area; the token itself is never stored,
// only its hash.
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Area      Area   `json:"area"`
	TokenHash []byte `json:"-"`
	// Deactivated users keep their record (the audit trail names them) and
	// their last token hash, so a phone that still sends it hears why it is
	// refused rather than "invalid token".
	Deactivated      bool   `json:"deactivated,omitempty"`
	DeactivateReason string `json:"deactivation_reason,omitempty"`
	Wipe             bool   `json:"wipe,omitempty"`
}

// AdminUserID is the id the admin token acts as. It is not a user of the
// directory (its token comes from the server's configuration), so no user
// may take the id and no command may switch it off.
const AdminUserID = "admin"

// Directory is the set of users, rebuilt from UsersStream.
type Directory struct {
	root
	byID map[string]*User
}

// LoadDirectory rebuilds the directory from its stream.
func LoadDirectory(history []Event) (*Directory, error) {
	d := &Directory{byID: map[string]*User{}}
	return d, load(&d.root, history, d.apply)
}

// Apply folds events appended after loading (by this or another replica) into
// the directory, keeping its revision in step with the stream.
func (d *Directory) Apply(history []Event) error { return load(&d.root, history, d.apply) }

// Users returns a copy of every user, in no particular order.
func (d *Directory) Users() []User {
	out := make([]User, 0, len(d.byID))
	for _, u := range d.byID {
		c := *u
		c.TokenHash = append([]byte(nil), u.TokenHash...)
		out = append(out, c)
	}
	return out
}

// User returns a copy of the user with id, if there is one.
func (d *Directory) User(id string) (User, bool) {
	u, ok := d.byID[id]
	if !ok {
		return User{}, false
	}
	c := *u
	c.TokenHash = append([]byte(nil), u.TokenHash...)
	return c, true
}

// CreateUser is the command to create a user. The caller generates the token
// and passes only its hash.
type CreateUser struct {
	ID        string
	Name      string
	Role      string
	District  string
	Chiefdom  string
	TokenHash []byte
}

// Create records a new user. A mobilizer must have a district: their area is
// what they may write to. Coordinators and auditors without a district work
// nationally.
func (d *Directory) Create(cmd CreateUser) error {
	if err := ValidateID("id", cmd.ID); err != nil {
		return err
	}
	if cmd.ID == AdminUserID {
		return FieldError("id", "%q is the admin token's own id; choose another", AdminUserID)
	}
	if _, dup := d.byID[cmd.ID]; dup {
		return Errorf(CodeAlreadyExists, "user %s already exists", cmd.ID)
	}
	name, err := text("name", cmd.Name, true, maxName)
	if err != nil {
		return err
	}
	role, err := Roles.parse("role", cmd.Role, true)
	if err != nil {
		return err
	}
	district, err := text("district", cmd.District, false, maxName)
	if err != nil {
		return err
	}
	chiefdom, err := text("chiefdom", cmd.Chiefdom, false, maxName)
	if err != nil {
		return err
	}
	switch {
	case role == RoleMobilizer && district == "":
		return FieldError("district", "is required for a mobilizer")
	case role == RoleAdmin && (district != "" || chiefdom != ""):
		return FieldError("district", "an admin has no area")
	case chiefdom != "" && district == "":
		return FieldError("district", "is required when chiefdom is given")
	}
	if len(cmd.TokenHash) == 0 {
		return Errorf(CodeInternal, "user without a token hash")
	}
	record(&d.root, &UserCreated{ID: cmd.ID, Name: name, Role: role,
		Area: Area{District: district, Chiefdom: chiefdom}, TokenHash: cmd.TokenHash}, d.apply)
	return nil
}

// Manager is who asks to switch a user off or to give them a new token.
type Manager struct {
	ID   string
	Role string
	Area Area
}

// DeactivateUser is the command to end a user's access (a lost or stolen
// phone, someone who left). Wipe asks their phone to erase its local data
// the next time it is refused.
type DeactivateUser struct {
	ID     string
	Reason string
	Wipe   bool
	By     Manager
}

// maxReason bounds a deactivation reason: a sentence, not a report.
const maxReason = 500

// Deactivate records that a user may no longer sign in. An admin may switch
// off anyone but the admin token itself; a coordinator only the mobilizers
// of their own area (the phones they hand out and collect).
func (d *Directory) Deactivate(cmd DeactivateUser) error {
	u, err := d.managed(cmd.ID, cmd.By, "deactivate")
	if err != nil {
		return err
	}
	reason, err := text("reason", cmd.Reason, true, maxReason)
	if err != nil {
		return err
	}
	if u.Deactivated {
		return Errorf(CodeTransition, "user %s is already deactivated (reason: %s)", u.ID, u.DeactivateReason)
	}
	record(&d.root, &UserDeactivated{ID: u.ID, Reason: reason, Wipe: cmd.Wipe}, d.apply)
	return nil
}

// IssueUserToken is the command to give a user a new token; the old one
// stops working. The caller generates the token and passes only its hash.
type IssueUserToken struct {
	ID        string
	TokenHash []byte
	By        Manager
}

// IssueToken records a user's new token hash.
func (d *Directory) IssueToken(cmd IssueUserToken) error {
	u, err := d.managed(cmd.ID, cmd.By, "issue a token to")
	if err != nil {
		return err
	}
	if u.Deactivated {
		return Errorf(CodeTransition, "user %s is deactivated (reason: %s); a deactivated user gets no new token", u.ID, u.DeactivateReason)
	}
	if len(cmd.TokenHash) == 0 {
		return Errorf(CodeInternal, "token without a hash")
	}
	record(&d.root, &UserTokenIssued{ID: u.ID, TokenHash: cmd.TokenHash}, d.apply)
	return nil
}

// CheckManager refuses (403, 404) a manager who may not deactivate or give
// a new token to user id, without recording anything: the write path asks
// before it compares revisions, so a caller outside the area hears 403,
// never 412.
func (d *Directory) CheckManager(id string, by Manager) error {
	_, err := d.managed(id, by, "manage")
	return err
}

// managed finds the user id names and checks that by may manage them: the
// role first (so that a caller who may manage nobody learns nothing about
// who exists), then existence, then the area.
func (d *Directory) managed(id string, by Manager, action string) (*User, error) {
	switch by.Role {
	case RoleAdmin, RoleCoordinator:
	default:
		return nil, Errorf(CodeForbidden, "only an admin, or a coordinator for the mobilizers of their area, may %s a user", action)
	}
	if id == AdminUserID {
		return nil, Errorf(CodeTransition, "the admin token is not a user: it comes from ACTIONLEDGER_ADMIN_TOKEN; change it there")
	}
	u, ok := d.byID[id]
	if ValidateID("id", id) != nil || !ok {
		return nil, Errorf(CodeNotFound, "no user %q", id)
	}
	if by.Role == RoleCoordinator && (u.Role != RoleMobilizer || !by.Area.Covers(u.Area)) {
		return nil, Errorf(CodeForbidden, "a coordinator may %s only the mobilizers of their own area", action)
	}
	return u, nil
}

func (d *Directory) apply(e Event) bool {
	switch e := e.(type) {
	case *UserCreated:
		if d.byID == nil {
			d.byID = map[string]*User{}
		}
		d.byID[e.ID] = &User{ID: e.ID, Name: e.Name, Role: e.Role, Area: e.Area, TokenHash: append([]byte(nil), e.TokenHash...)}
	case *UserDeactivated:
		u, ok := d.byID[e.ID]
		if !ok {
			return false
		}
		u.Deactivated, u.DeactivateReason, u.Wipe = true, e.Reason, e.Wipe
	case *UserTokenIssued:
		u, ok := d.byID[e.ID]
		if !ok {
			return false
		}
		u.TokenHash = append([]byte(nil), e.TokenHash...)
	default:
		return false
	}
	return true
}

// UserCreated.v1: an admin created a user.
type UserCreated struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Area      Area   `json:"area"`
	TokenHash []byte `json:"-"`
}

// EventType implements Event.
func (*UserCreated) EventType() string { return "UserCreated.v1" }
func (e *UserCreated) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.Name)
	w.String(e.Role)
	w.String(e.Area.District)
	w.String(e.Area.Chiefdom)
	w.Blob(e.TokenHash)
}
func (e *UserCreated) decode(r *wire.Decoder) {
	e.ID, e.Name, e.Role = r.String(), r.String(), r.String()
	e.Area = Area{District: r.String(), Chiefdom: r.String()}
	e.TokenHash = r.Blob()
}

// UserDeactivated.v1: an admin or a coordinator ended a user's access. Who
// and when are in the envelope.
type UserDeactivated struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	// Wipe asks the user's phone to erase its local data.
	Wipe bool `json:"wipe"`
}

// EventType implements Event.
func (*UserDeactivated) EventType() string { return "UserDeactivated.v1" }
func (e *UserDeactivated) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.Reason)
	w.Bool(e.Wipe)
}
func (e *UserDeactivated) decode(r *wire.Decoder) {
	e.ID, e.Reason, e.Wipe = r.String(), r.String(), r.Bool()
}

// UserTokenIssued.v1: a user was given a new token; only its hash is kept,
// and the previous one no longer signs in.
type UserTokenIssued struct {
	ID        string `json:"id"`
	TokenHash []byte `json:"-"`
}

// EventType implements Event.
func (*UserTokenIssued) EventType() string { return "UserTokenIssued.v1" }
func (e *UserTokenIssued) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.Blob(e.TokenHash)
}
func (e *UserTokenIssued) decode(r *wire.Decoder) {
	e.ID, e.TokenHash = r.String(), r.Blob()
}

// ExportsStream holds the record of every audit export.
const ExportsStream = "exports"

// ExportRecorded.v1: an auditor exported part of the history. Who and when
// are in the envelope; what is here.
type ExportRecorded struct {
	Format   string    `json:"format"`
	District string    `json:"district,omitempty"`
	Chiefdom string    `json:"chiefdom,omitempty"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
}

// EventType implements Event.
func (*ExportRecorded) EventType() string { return "ExportRecorded.v1" }
func (e *ExportRecorded) encode(w *wire.Encoder) {
	w.String(e.Format)
	w.String(e.District)
	w.String(e.Chiefdom)
	w.Time(e.From)
	w.Time(e.To)
}
func (e *ExportRecorded) decode(r *wire.Decoder) {
	e.Format, e.District, e.Chiefdom, e.From, e.To = r.String(), r.String(), r.String(), r.Time(), r.Time()
}
