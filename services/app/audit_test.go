package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var (
	nationalAuditor = app.Actor{ID: "u-audit", Role: domain.RoleAuditor}
	kenemaAuditor   = app.Actor{ID: "u-audit-ken", Role: domain.RoleAuditor, Area: domain.Area{District: "Kenema"}}
)

// commandCount reads commands_total{command, outcome} from reg.
func commandCount(t *testing.T, reg *prometheus.Registry, command, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "actionledger_commands_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "command") == command && label(m, "outcome") == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// The export command goes through the application's decorators: counted on
// the application's registry like every other command.
func TestAuditExportIsLoggedAndCounted(t *testing.T) {
	f := newFixture(t)
	a, reg := f.replica(t)
	audit := a.Audit
	res, err := audit.RecordExport.Handle(t.Context(), app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv"})
	if err != nil || !res.Created || res.Position == 0 || res.ID == "" {
		t.Fatalf("record export: %+v %v", res, err)
	}
	if _, err := audit.RecordExport.Handle(t.Context(), app.RecordExport{Meta: app.Meta{Actor: mobilizer}, Format: "csv"}); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("a mobilizer's export: %v", err)
	}
	if got := commandCount(t, reg, "record_export", "ok"); got != 1 {
		t.Errorf("commands_total{record_export,ok} = %v, want 1", got)
	}
	if got := commandCount(t, reg, "record_export", "forbidden"); got != 1 {
		t.Errorf("commands_total{record_export,forbidden} = %v, want 1", got)
	}
}

func TestRecordExport(t *testing.T) {
	from := time.Date(2015, 1, 5, 0, 0, 0, 0, time.UTC)
	to := time.Date(2015, 4, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		cmd   app.RecordExport
		code  domain.Code
		field string
		want  domain.ExportRecorded
	}{
		{name: "national", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "ndjson", From: from, To: to},
			want: domain.ExportRecorded{Format: "ndjson", From: from, To: to}},
		{name: "district_auditor_is_narrowed_to_the_district", cmd: app.RecordExport{Meta: app.Meta{Actor: kenemaAuditor}, Format: "html"},
			want: domain.ExportRecorded{Format: "html", District: "Kenema"}},
		{name: "chiefdom", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", District: "Kenema", Chiefdom: "Nongowa"},
			want: domain.ExportRecorded{Format: "csv", District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "unknown_format", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "xlsx"}, code: domain.CodeInvalid, field: "format"},
		{name: "to_before_from", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", From: to, To: from}, code: domain.CodeInvalid, field: "to"},
		{name: "from_before_2000", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", From: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}, code: domain.CodeInvalid, field: "from"},
		{name: "to_after_2199", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", To: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, code: domain.CodeInvalid, field: "to"},
		{name: "district_too_long", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", District: strings.Repeat("k", 201)}, code: domain.CodeInvalid, field: "district"},
		{name: "chiefdom_control_character", cmd: app.RecordExport{Meta: app.Meta{Actor: nationalAuditor}, Format: "csv", District: "Kenema", Chiefdom: "Nongowa\x00"}, code: domain.CodeInvalid, field: "chiefdom"},
		{name: "outside_area", cmd: app.RecordExport{Meta: app.Meta{Actor: kenemaAuditor}, Format: "csv", District: "Kailahun"}, code: domain.CodeForbidden},
		{name: "coordinator", cmd: app.RecordExport{Meta: app.Meta{Actor: coordinator}, Format: "csv"}, code: domain.CodeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a, _ := f.replica(t)
			audit := a.Audit
			res, err := audit.RecordExport.Handle(t.Context(), tc.cmd)
			if tc.code != "" {
				var de *domain.Error
				if domain.ErrorCode(err) != tc.code || tc.field != "" && (!errorsAs(err, &de) || de.Field != tc.field) {
					t.Fatalf("err = %v, want %s on %q", err, tc.code, tc.field)
				}
				if recs, _ := f.store.ReadStream(t.Context(), domain.ExportsStream, 0, 10); len(recs) != 0 {
					t.Errorf("a refused export was recorded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs, err := f.store.ReadStream(t.Context(), domain.ExportsStream, 0, 10)
			if err != nil || len(recs) != 1 || recs[0].Position != res.Position || recs[0].ID.String() != res.ID {
				t.Fatalf("stored: %v %v", recs, err)
			}
			ev, err := domain.Unmarshal(recs[0].Type, recs[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if got := *ev.(*domain.ExportRecorded); got != tc.want {
				t.Errorf("recorded %+v, want %+v", got, tc.want)
			}
			if m := recs[0].Meta; m.ActorID != tc.cmd.Actor.ID || m.ActorRole != domain.RoleAuditor || m.OccurredAt.IsZero() {
				t.Errorf("envelope %+v", m)
			}
		})
	}
}

func errorsAs(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	if ok {
		*de = e
	}
	return ok
}

// A user's name, token hash and creation key (from which, with the token
// secret, the token is derived) never leave the server; the rest of the
// event does.
func TestAuditEventViewRedactsUsers(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	if _, err := a.CreateUser.Handle(t.Context(), app.CreateUser{Meta: app.Meta{Actor: admin, IdempotencyKey: "phone-42-user-7", RequestHash: []byte{1}}, Name: "Fatmata Kamara", Role: "mobilizer", District: "Kenema"}); err != nil {
		t.Fatal(err)
	}
	events, _, err := a.Audit.StreamEvents(t.Context(), nationalAuditor, domain.UsersStream, 0, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("%v %v", events, err)
	}
	b, err := json.Marshal(events[0])
	if err != nil {
		t.Fatal(err)
	}
	if view := string(b); strings.Contains(view, "Fatmata") || strings.Contains(view, "Kamara") || strings.Contains(view, "phone-42-user-7") ||
		!strings.Contains(view, `"redacted":["name","token_hash","idempotency_key"]`) ||
		!strings.Contains(view, `"role":"mobilizer"`) || !strings.Contains(view, `"district":"Kenema"`) {
		t.Errorf("view %s", view)
	}
	if _, _, err := a.Audit.StreamEvents(t.Context(), kenemaAuditor, domain.UsersStream, 0, 10); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Errorf("a district auditor reading the users: %v", err)
	}
}
