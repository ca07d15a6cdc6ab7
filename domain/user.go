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
}

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

func (d *Directory) apply(e Event) bool {
	switch e := e.(type) {
	case *UserCreated:
		if d.byID == nil {
			d.byID = map[string]*User{}
		}
		d.byID[e.ID] = &User{ID: e.ID, Name: e.Name, Role: e.Role, Area: e.Area, TokenHash: append([]byte(nil), e.TokenHash...)}
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
