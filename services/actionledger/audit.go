package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// `actionledger audit history|as-of|verify|export`: the auditor's tools,
// against a data dir (--data-dir; the server must be stopped, the store file
// is single-process) or a running server (--server URL, with the auditor's
// token in ACTIONLEDGER_TOKEN). Both modes print the same shapes as the HTTP
// routes: history as NDJSON, one event a line; as-of and verify as JSON; an
// export as the file itself.
//
// Offline, the data dir is the authority: history, as-of and verify need no
// token. An export is recorded as an event naming its actor, so it needs
// ACTIONLEDGER_TOKEN of an auditor in both modes.

const auditUsage = `usage: actionledger audit <command> (--data-dir DIR | --server URL) [flags]

  history   the events of one stream (--stream actionpoint-ID) or of the global log
            (--district --chiefdom --community-id --type --actor --from --to --basis), as NDJSON
  as-of     indicators (--district --chiefdom --community-id) or one aggregate (--action-point ID,
            --community ID, --referral ID, --feedback ID) as they stood --at a time, --basis recorded|occurred
  verify    walk the hash chain: the first broken position, or the head hash and count (exit 1 if broken)
  export    --format ndjson|csv|html [--district --chiefdom --from --to] [--out FILE]

--server needs ACTIONLEDGER_TOKEN (an auditor's); so does export with --data-dir.

Example:
  actionledger audit verify --data-dir ./data

Run "actionledger audit <command> --help" for a command's flags and examples.
`

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return errors.New("audit: no command given")
	}
	var c auditCLI
	c.stdout, c.stderr = stdout, stderr
	f := newFlags("audit "+args[0], stderr)
	f.String(&c.dataDir, "data-dir", "", "read the store in this data dir (the server must be stopped)")
	f.String(&c.server, "server", "", "ask a running server at this URL (token in ACTIONLEDGER_TOKEN)")
	f.String(&c.placesFile, "places", "", "with --data-dir: the places list --district and --chiefdom are checked against (default: Sierra Leone's)")
	var run func(context.Context) error
	switch args[0] {
	case "history":
		f.describe(stdout, `Prints the events of one stream, or of the global log filtered by place, type,
actor and time, as NDJSON: one full envelope (ids, both clocks, hash) a line.`,
			"actionledger audit history --data-dir ./data --stream referral-KEN-NON-11-R1",
			`ACTIONLEDGER_TOKEN="$AUDIT" actionledger audit history --server http://127.0.0.1:8080 --district Kenema --type ReferralCompleted.v1`)
		f.String(&c.stream, "stream", "", "one stream, e.g. actionpoint-KEN-0042-AP1 (default: the global log)")
		c.logFlags(f)
		f.IntVar(&c.limit, "limit", 0, "print at most this many events (0: all)")
		run = c.history
	case "as-of":
		f.describe(stdout, `Prints the indicators of a place, or one aggregate's state, as they stood at
--at: as known then (--basis recorded) or as it happened (--basis occurred).`,
			"actionledger audit as-of --data-dir ./data --at 2026-10-15 --basis occurred --district Kenema",
			"actionledger audit as-of --data-dir ./data --at 2026-10-15T12:00:00Z --action-point KEN-NON-11-AP1")
		f.String(&c.at, "at", "", "the time, RFC 3339 or YYYY-MM-DD (required)")
		f.String(&c.basis, "basis", app.BasisRecorded, "recorded (what was known then) or occurred (what had happened)")
		f.String(&c.district, "district", "", "place of the indicators")
		f.String(&c.chiefdom, "chiefdom", "", "place of the indicators (with --district)")
		f.String(&c.communityID, "community-id", "", "one community's indicators")
		f.String(&c.actionPoint, "action-point", "", "one action point's state instead of the indicators")
		f.String(&c.community, "community", "", "one community's state instead of the indicators")
		f.String(&c.referral, "referral", "", "one referral's state instead of the indicators")
		f.String(&c.feedback, "feedback", "", "one feedback item's state instead of the indicators")
		f.String(&c.weights, "trust-weights", "0.4,0.2,0.2,0.2", "weights of T1..T4 (with --data-dir; a server uses its own)")
		run = c.asOf
	case "verify":
		f.describe(stdout, `Recomputes every event's hash and link: prints the head hash and count when the
log is intact, or the first broken position (and exits 1) when it was altered.`,
			"actionledger audit verify --data-dir ./data")
		run = c.verify
	case "export":
		f.describe(stdout, `Exports a place's events as NDJSON or CSV, or an after-action review as HTML,
and records the export as an event naming the auditor (ACTIONLEDGER_TOKEN).`,
			`ACTIONLEDGER_TOKEN="$AUDIT" actionledger audit export --server http://127.0.0.1:8080 --format csv --district Kenema --out kenema.csv`)
		f.String(&c.format, "format", "ndjson", "ndjson, csv or html")
		f.String(&c.district, "district", "", "place to export (default: the auditor's area)")
		f.String(&c.chiefdom, "chiefdom", "", "place to export (with --district)")
		f.String(&c.from, "from", "", "first field time (occurred_at) exported, RFC 3339 or YYYY-MM-DD")
		f.String(&c.to, "to", "", "field time (occurred_at) before which the export stops")
		f.String(&c.out, "out", "", "write to this file (default: standard output)")
		f.String(&c.weights, "trust-weights", "0.4,0.2,0.2,0.2", "weights of T1..T4 in the report (with --data-dir)")
		run = c.export
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	default:
		fmt.Fprint(stderr, auditUsage)
		return fmt.Errorf("audit: unknown command %q", args[0])
	}
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	switch {
	case (c.dataDir == "") == (c.server == ""):
		return errors.New("audit: give exactly one of --data-dir or --server")
	case c.server != "":
		c.token = os.Getenv("ACTIONLEDGER_TOKEN")
		if c.token == "" {
			return errors.New("audit: set ACTIONLEDGER_TOKEN to an auditor's token")
		}
		c.server = strings.TrimRight(c.server, "/")
	default:
		closeFn, err := c.openOffline(ctx)
		if err != nil {
			return err
		}
		defer closeFn()
	}
	return run(ctx)
}

// auditCLI holds one audit command's flags and, offline, the opened store.
type auditCLI struct {
	stdout, stderr io.Writer
	dataDir        string
	server, token  string
	placesFile     string

	stream, district, chiefdom, communityID, types, actor, from, to, basis string
	limit                                                                  int
	at, actionPoint, community, referral, feedback, weights                string
	format, out                                                            string

	// Offline only.
	store *boltstore.Store
	app   *app.Application
	audit *app.Audit
}

func (c *auditCLI) logFlags(f flags) {
	f.String(&c.district, "district", "", "events of this district")
	f.String(&c.chiefdom, "chiefdom", "", "events of this chiefdom (with --district)")
	f.String(&c.communityID, "community-id", "", "events of this community")
	f.String(&c.types, "type", "", "event types, comma-separated, e.g. ActionPointAchieved.v1")
	f.String(&c.actor, "actor", "", "events written by this user id")
	f.String(&c.from, "from", "", "first time selected, RFC 3339 or YYYY-MM-DD")
	f.String(&c.to, "to", "", "time before which the selection stops")
	f.String(&c.basis, "basis", app.BasisOccurred, "which time --from and --to bound: occurred or recorded")
}

// offlineActor reads offline: the data dir is the authority, and reads
// record nothing.
var offlineActor = app.Actor{ID: "offline-cli", Role: domain.RoleAuditor}

func (c *auditCLI) openOffline(ctx context.Context) (func(), error) {
	path := filepath.Join(c.dataDir, "events.db")
	// Opening a missing file would create an empty store and report on it.
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("audit: no event store in %s: %w", c.dataDir, err)
	}
	store, err := boltstore.Open(path, boltstore.Options{OpenTimeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the event store (is the server still running?): %w", err)
	}
	pl, err := loadPlaces(c.placesFile)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	a, err := app.New(app.Config{Store: store, Logger: zap.NewNop(), Registerer: prometheus.NewRegistry(), Places: pl})
	if err == nil {
		err = a.Auth.Refresh(ctx)
	}
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	c.store, c.app, c.audit = store, a, a.Audit
	return func() { _ = store.Close() }, nil
}

// cliTime reads a time flag like the routes read a time parameter.
func cliTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--%s: %q is not an RFC 3339 time or a YYYY-MM-DD date", name, v)
}

func (c *auditCLI) logFilter() (app.LogFilter, error) {
	f := app.LogFilter{Area: domain.Area{District: c.district, Chiefdom: c.chiefdom}, CommunityID: c.communityID,
		ActorID: c.actor, Basis: c.basis}
	for _, t := range strings.Split(c.types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			f.Types = append(f.Types, t)
		}
	}
	var err error
	if f.From, err = cliTime("from", c.from); err != nil {
		return f, err
	}
	f.To, err = cliTime("to", c.to)
	return f, err
}

// ---------------------------------------------------------------------------
// history

func (c *auditCLI) history(ctx context.Context) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	printed := 0
	emit := func(v any) (bool, error) {
		if err := enc.Encode(v); err != nil {
			return false, err
		}
		printed++
		return c.limit == 0 || printed < c.limit, nil
	}
	if c.server != "" {
		return c.remoteHistory(ctx, emit)
	}
	if c.stream != "" {
		var after uint64
		for {
			events, next, err := c.audit.StreamEvents(ctx, offlineActor, c.stream, after, 1000)
			if err != nil {
				return err
			}
			for _, v := range events {
				if more, err := emit(v); err != nil || !more {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			after = next
		}
	}
	f, err := c.logFilter()
	if err != nil {
		return err
	}
	var after uint64
	for {
		page, err := c.audit.Events(ctx, offlineActor, f, after, 1000)
		if err != nil {
			return err
		}
		for _, v := range page.Events {
			if more, err := emit(v); err != nil || !more {
				return err
			}
		}
		if page.Next == 0 {
			return nil
		}
		after = page.Next
	}
}

func (c *auditCLI) remoteHistory(ctx context.Context, emit func(any) (bool, error)) error {
	path, q := "/v1/audit/events", url.Values{}
	if c.stream != "" {
		path = "/v1/streams/" + url.PathEscape(c.stream) + "/events"
	} else {
		for k, v := range map[string]string{"district": c.district, "chiefdom": c.chiefdom, "community_id": c.communityID,
			"type": c.types, "actor": c.actor, "from": c.from, "to": c.to, "basis": c.basis} {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	q.Set("limit", "1000")
	for {
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := c.getJSON(ctx, path, q, &page); err != nil {
			return err
		}
		for _, ev := range page.Events {
			if more, err := emit(ev); err != nil || !more {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// ---------------------------------------------------------------------------
// as-of

func (c *auditCLI) asOf(ctx context.Context) error {
	if c.at == "" {
		return errors.New("as-of: --at is required")
	}
	at, err := cliTime("at", c.at)
	if err != nil {
		return err
	}
	var stream string
	for _, a := range []struct{ category, id string }{{domain.ActionPointCategory, c.actionPoint}, {domain.CommunityCategory, c.community},
		{domain.ReferralCategory, c.referral}, {domain.FeedbackCategory, c.feedback}} {
		if a.id == "" {
			continue
		}
		if stream != "" {
			return errors.New("as-of: give at most one of --action-point, --community, --referral, --feedback")
		}
		stream = a.category + "-" + a.id
	}
	if c.server != "" {
		q := url.Values{"at": {c.at}, "basis": {c.basis}}
		path := "/v1/audit/as-of"
		if stream != "" {
			path += "/aggregate"
			q.Set("stream", stream)
		} else {
			for k, v := range map[string]string{"district": c.district, "chiefdom": c.chiefdom, "community_id": c.communityID} {
				if v != "" {
					q.Set(k, v)
				}
			}
		}
		var out json.RawMessage
		if err := c.getJSON(ctx, path, q, &out); err != nil {
			return err
		}
		return c.printJSON(out)
	}
	if stream != "" {
		view, meta, err := c.audit.AggregateAsOf(ctx, offlineActor, stream, at, c.basis)
		if err != nil {
			return err
		}
		return c.printJSON(api.AsOfAnswer(view, meta))
	}
	basis, err := app.ParseBasis("basis", c.basis, app.BasisRecorded)
	if err != nil {
		return err
	}
	f, err := c.audit.Scope(ctx, offlineActor, app.LogFilter{Area: domain.Area{District: c.district, Chiefdom: c.chiefdom}, CommunityID: c.communityID})
	if err != nil {
		return err
	}
	var weights [4]float64
	if err := parseWeights(c.weights, &weights); err != nil {
		return err
	}
	// The as-of models are rebuilt from the log; the engine's own database
	// only holds snapshots, so a scratch one keeps the data dir untouched.
	scratch, err := os.MkdirTemp("", "actionledger-asof")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	eng, err := projections.Open(ctx, projections.Config{Store: c.store, Path: filepath.Join(scratch, "projections.db"), TrustWeights: weights})
	if err != nil {
		return err
	}
	defer eng.Close()
	res, err := eng.AsOf(ctx, at, basis, projections.Filter{District: f.Area.District, Chiefdom: f.Area.Chiefdom, CommunityID: f.CommunityID})
	if err != nil {
		return err
	}
	return c.printJSON(api.AsOfIndicatorsAnswer(res))
}

// ---------------------------------------------------------------------------
// verify

func (c *auditCLI) verify(ctx context.Context) error {
	var v app.VerifyView
	if c.server != "" {
		if err := c.getJSON(ctx, "/v1/audit/verify", nil, &v); err != nil {
			return err
		}
	} else {
		var err error
		if v, err = c.audit.Verify(ctx, offlineActor); err != nil {
			return err
		}
		// With the file at hand, also check what the chain does not
		// cover: the embedded store's index beside the log.
		start := time.Now()
		res, err := c.store.Verify(ctx)
		if err != nil {
			return err
		}
		if !res.Intact() && (v.Intact || res.BrokenAt < v.BrokenAt) {
			v.Intact, v.BrokenAt, v.Reason = false, res.BrokenAt, res.Reason+" (embedded store check)"
		}
		v.TookMS += time.Since(start).Milliseconds()
	}
	if err := c.printJSON(v); err != nil {
		return err
	}
	if !v.Intact {
		return fmt.Errorf("the chain is broken at position %d: %s", v.BrokenAt, v.Reason)
	}
	fmt.Fprintf(c.stderr, "intact: %d events, head position %d, head hash %s\n", v.Count, v.HeadPosition, v.HeadHash)
	return nil
}

// ---------------------------------------------------------------------------
// export

func (c *auditCLI) export(ctx context.Context) (err error) {
	token := c.token
	if token == "" {
		token = os.Getenv("ACTIONLEDGER_TOKEN")
	}
	if token == "" {
		return errors.New("export: an export is recorded under its auditor: set ACTIONLEDGER_TOKEN to an auditor's token")
	}
	out := c.stdout
	if c.out != "" {
		file, err := os.OpenFile(c.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}()
		out = file
	}
	if c.server != "" {
		q := url.Values{"format": {c.format}}
		for k, v := range map[string]string{"district": c.district, "chiefdom": c.chiefdom, "from": c.from, "to": c.to} {
			if v != "" {
				q.Set(k, v)
			}
		}
		resp, err := c.get(ctx, "/v1/audit/export", q)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(out, resp.Body); err != nil {
			return fmt.Errorf("export: the transfer broke off: %w", err)
		}
		fmt.Fprintf(c.stderr, "export %s recorded at position %s\n", resp.Header.Get("X-Export-ID"), resp.Header.Get("X-Export-Position"))
		return nil
	}
	actor, err := c.app.Auth.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	req := api.ExportRequest{Format: c.format, Area: domain.Area{District: c.district, Chiefdom: c.chiefdom}}
	if req.From, err = cliTime("from", c.from); err != nil {
		return err
	}
	if req.To, err = cliTime("to", c.to); err != nil {
		return err
	}
	var weights [4]float64
	if err := parseWeights(c.weights, &weights); err != nil {
		return err
	}
	spec, err := api.StartExport(ctx, c.audit, app.Meta{Actor: actor, CorrelationID: "cli", CausationID: "cli"}, req, weights)
	if err != nil {
		return err
	}
	if _, err := api.WriteExport(ctx, out, c.audit, spec, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "export %s recorded at position %d\n", spec.Record.ID, spec.Record.Position)
	return nil
}

// ---------------------------------------------------------------------------
// Talking to a server

func (c *auditCLI) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	u := c.server + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var p api.Problem
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(body, &p) == nil && p.Code != "" {
			if p.Field != "" {
				return nil, fmt.Errorf("server answered %d %s: %s: %s", resp.StatusCode, p.Code, p.Field, p.Detail)
			}
			return nil, fmt.Errorf("server answered %d %s: %s", resp.StatusCode, p.Code, p.Detail)
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return resp, nil
}

func (c *auditCLI) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.get(ctx, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *auditCLI) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
