package console

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/actionledger/actionledger/api/qrcode"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// Ops is what the pages for people and the audit need of the read side,
// each checked exactly as its JSON route checks it (the api package hands
// in the routes' own functions).
type Ops interface {
	// LastSeen is when each user last wrote to the log (nil: not kept).
	LastSeen(ids []string) map[string]time.Time
	Poisoned(ctx context.Context, actor app.Actor) ([]projections.Poisoned, error)
	// AsOf is every indicator of the actor's area as it stood at a time.
	AsOf(ctx context.Context, actor app.Actor, at time.Time, basis string) (projections.AsOf, error)
	// TrustSettings are the weights and the floor for "falling" the read
	// models weigh trust with.
	TrustSettings() ([4]float64, int)
}

// usersPageSize keeps a page of users, each with its two forms, well
// under the page weight a field connection can bear.
const usersPageSize = 50

func (c *Console) mountPeople(r *mux.Router) {
	r.Handle("/users", c.methods(c.users, http.MethodGet, http.MethodHead, http.MethodPost))
	r.Handle("/users/{id}/deactivate", c.methods(c.deactivate, http.MethodPost))
	r.Handle("/users/{id}/token", c.methods(c.newToken, http.MethodPost))
	r.Handle("/operations", c.methods(c.operations, http.MethodGet, http.MethodHead))
	r.Handle("/operations/rebuild", c.methods(c.rebuild, http.MethodGet, http.MethodHead, http.MethodPost))
}

// refusal is the application's "no", shown plainly: the status's own text
// and, for a refusal of the request (not a failure of the server), the
// application's reason.
type refusal struct {
	Detail string
}

func (c *Console) refuse(w http.ResponseWriter, r *http.Request, s *session, actor app.Actor, err error) {
	status := c.cfg.StatusOf(err)
	c.logFailure(r, status, err)
	v := c.view(r, "notice", s, actor)
	switch {
	case status == http.StatusForbidden:
		v.Message = "error_forbidden"
	case status == http.StatusNotFound:
		v.Message = "error_not_found"
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		v.Message = "error_conflict"
	case status == http.StatusServiceUnavailable:
		v.Message = "error_unavailable"
	case status >= 500:
		v.Message = "error_internal"
	default:
		v.Message = "error_refused"
	}
	if status < 500 {
		v.Data = refusal{Detail: err.Error()}
	}
	c.render(w, r, status, v)
}

// command starts a command's metadata: the actor, the request's ids, and
// the form's idempotency key, so that a form sent twice (a double click, a
// reload) does its work once and answers the same.
func (c *Console) commandMeta(r *http.Request, actor app.Actor) app.Meta {
	m := c.cfg.Meta(r, actor)
	if key := r.PostForm.Get("key"); key != "" && len(key) <= 200 {
		m.IdempotencyKey = "console-" + key
		form := url.Values{}
		for k, v := range r.PostForm {
			if k != csrfField {
				form[k] = v
			}
		}
		m.RequestHash = app.RequestHash(r.Method, r.URL.Path, []byte(form.Encode()))
	}
	return m
}

type usersView struct {
	// Admin: the whole directory with the form to add a user; otherwise a
	// coordinator's mobilizers.
	Admin  bool
	Users  []userRow
	Role   string
	Active string
	Roles  []string
	// Next is where the following page starts; 0 on the last.
	Next int32
	// Key is the idempotency key of this page's forms.
	Key string
	// Form is what an admin typed into the add form, shown again when the
	// application refused it.
	Form url.Values
}

type userRow struct {
	app.UserView
	LastSeen string
	// ItemsThisWeek and ItemsRefused are the user's events and refused
	// writes this ISO week; Refused is false when refusals are not kept.
	ItemsThisWeek, ItemsRefused int
	Refused                     bool
}

var allRoles = []string{domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin}

// users lists the users the actor may manage — app.Authenticator.ListUsers
// decides who that is — and, posted, adds one.
func (c *Console) users(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		c.createUser(w, r, s, actor)
		return
	}
	q := r.URL.Query()
	f := app.UserFilter{Role: q.Get("role")}
	switch q.Get("active") {
	case "true":
		t := true
		f.Active = &t
	case "false":
		t := false
		f.Active = &t
	}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 32)
	list, next, err := c.cfg.App.Auth.ListUsers(actor, f, int32(max(after, 0)), usersPageSize)
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	data := &usersView{Admin: actor.Role == domain.RoleAdmin, Role: f.Role, Active: q.Get("active"), Roles: allRoles, Key: randomID()}
	if data.Users, err = c.userRows(list); err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	data.Next = next
	v := c.view(r, "users", s, actor)
	v.Data = data
	c.render(w, r, http.StatusOK, v)
}

// userRows adds to each user the application's figures of their work,
// the same that GET /v1/users answers.
func (c *Console) userRows(list []app.UserView) ([]userRow, error) {
	ids := make([]string, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	activity, err := c.cfg.App.Activity.Of(ids)
	if err != nil {
		return nil, err
	}
	rows := make([]userRow, len(list))
	for i, u := range list {
		a := activity[u.ID]
		rows[i] = userRow{UserView: u, ItemsThisWeek: a.ItemsThisWeek, ItemsRefused: a.ItemsRefused, Refused: a.ItemsRefused >= 0}
		if !a.LastSeen.IsZero() {
			rows[i].LastSeen = a.LastSeen.UTC().Format("2006-01-02 15:04") + " UTC"
		}
	}
	return rows, nil
}

// tokenView shows a token the one time it is shown, with a QR code: of the
// mobilizers' app's sign-in link for a mobilizer, of the token otherwise.
type tokenView struct {
	Created bool
	ID      string
	Name    string
	Role    string
	Token   string
	Link    string
	QR      template.HTML
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session, actor app.Actor) {
	if !c.checkCSRF(w, r, s) {
		return
	}
	f := r.PostForm
	cmd := app.CreateUser{Meta: c.commandMeta(r, actor), Name: f.Get("name"), Role: f.Get("role"),
		District: f.Get("district"), Chiefdom: f.Get("chiefdom")}
	res, err := c.cfg.App.CreateUser.Handle(r.Context(), cmd)
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	c.log.Info("console created a user", zap.String("actor_id", actor.ID), zap.String("user_id", res.ID))
	c.showToken(w, r, s, actor, tokenView{Created: true, ID: res.ID, Name: cmd.Name, Role: cmd.Role, Token: res.Token})
}

func (c *Console) deactivate(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok || !c.checkCSRF(w, r, s) {
		return
	}
	id := mux.Vars(r)["id"]
	_, err := c.cfg.App.DeactivateUser.Handle(r.Context(), app.DeactivateUser{
		Meta: c.commandMeta(r, actor), ID: id, Reason: r.PostForm.Get("reason"), Wipe: r.PostForm.Get("wipe") == "on"})
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	v := c.view(r, "done", s, actor)
	v.Message = "user_deactivated"
	v.Data = r.PostForm.Get("name")
	c.render(w, r, http.StatusOK, v)
}

func (c *Console) newToken(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok || !c.checkCSRF(w, r, s) {
		return
	}
	id := mux.Vars(r)["id"]
	res, err := c.cfg.App.IssueToken.Handle(r.Context(), app.IssueToken{Meta: c.commandMeta(r, actor), ID: id})
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	c.showToken(w, r, s, actor, tokenView{ID: id, Name: r.PostForm.Get("name"), Role: r.PostForm.Get("role"), Token: res.Token})
}

// showToken answers the page that shows a token, never stored or cached.
func (c *Console) showToken(w http.ResponseWriter, r *http.Request, s *session, actor app.Actor, t tokenView) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	payload := t.Token
	if t.Role == domain.RoleMobilizer {
		t.Link = scheme + "://" + r.Host + "/app/#token=" + url.QueryEscape(t.Token)
		payload = t.Link
	}
	v := c.view(r, "token", s, actor)
	title, _ := text(v.Lang, "qr_title")
	if code, err := qrcode.Encode([]byte(payload), qrcode.M); err == nil {
		// The encoder writes the SVG itself and escapes its title.
		t.QR = template.HTML(code.SVG(240, title)) //nolint:gosec // built by qrcode, title escaped
	} else {
		c.log.Warn("console could not draw a token's QR code", zap.Error(err))
	}
	v.Data = t
	c.render(w, r, http.StatusOK, v)
}

type operationsView struct {
	Poisoned []projections.Poisoned
	// Rebuild is the application's rebuild status; Progress says whether
	// this is the page that follows it (and refreshes while it runs).
	Rebuild  app.RebuildStatus
	Progress bool
	Percent  int
	// Took, Elapsed, Rate and Left are the status's figures in words.
	Took, Elapsed, Rate, Left string
}

// rebuildRefresh is how often, in seconds, the progress page reloads
// itself while a rebuild runs: a meta refresh, so it works without
// JavaScript.
const rebuildRefresh = 2

// operations is the admin's page of the read models: the poison queue and
// the rebuild.
func (c *Console) operations(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	c.operationsPage(w, r, s, actor, false)
}

func (c *Console) operationsPage(w http.ResponseWriter, r *http.Request, s *session, actor app.Actor, progress bool) {
	items, err := c.cfg.Ops.Poisoned(r.Context(), actor)
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	st, err := c.cfg.App.Rebuilds.Status(actor)
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	data := &operationsView{Poisoned: items, Rebuild: st, Progress: progress}
	if st.Head > 0 {
		data.Percent = int(min(st.Replayed*100/st.Head, 100))
	}
	data.Elapsed = seconds(st.ElapsedSeconds)
	data.Rate = strconv.FormatFloat(st.EventsPerSecond, 'f', 0, 64)
	if st.RemainingSeconds != nil {
		data.Left = seconds(*st.RemainingSeconds)
	}
	if st.Report != nil {
		data.Took = st.Report.Took.Round(time.Millisecond).String()
	}
	v := c.view(r, "operations", s, actor)
	if progress && st.State == app.RebuildRunning {
		v.Refresh = rebuildRefresh
	}
	v.Data = data
	c.render(w, r, http.StatusOK, v)
}

// seconds words a duration in seconds, to the second.
func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// rebuild, posted, starts a rebuild in the background (or finds the one
// running) and sends the admin to the page that follows it; that page
// (GET) shows its progress, reloading itself until it is done.
func (c *Console) rebuild(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		c.operationsPage(w, r, s, actor, true)
		return
	}
	if !c.checkCSRF(w, r, s) {
		return
	}
	_, started, err := c.cfg.App.Rebuilds.Start(actor)
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	if started {
		c.log.Info("console started a read-model rebuild", zap.String("actor_id", actor.ID))
	}
	http.Redirect(w, r, "/operations/rebuild", http.StatusSeeOther)
}
