package domain_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/domain"
)

// directoryOf returns a directory loaded (not recorded) with a few users of
// Kailahun and Kenema, as a replica would have it.
func directoryOf(t *testing.T) *domain.Directory {
	t.Helper()
	d, _ := domain.LoadDirectory(nil)
	for _, c := range []domain.CreateUser{
		createUserCmd(), // u-mob-1: mobilizer, Kailahun / Luawa
		{ID: "u-mob-kai", Name: "Mobilizer Kailahun", Role: "mobilizer", District: "Kailahun", TokenHash: []byte{2}},
		{ID: "u-mob-ken", Name: "Mobilizer Kenema", Role: "mobilizer", District: "Kenema", TokenHash: []byte{3}},
		{ID: "u-coord-kai", Name: "Coordinator Kailahun", Role: "coordinator", District: "Kailahun", TokenHash: []byte{4}},
		{ID: "u-aud", Name: "Auditor", Role: "auditor", TokenHash: []byte{5}},
	} {
		mustOK(t, d.Create(c), c.ID)
	}
	loaded, err := domain.LoadDirectory(d.Changes())
	mustOK(t, err, "load")
	return loaded
}

var (
	byAdmin       = domain.Manager{ID: "admin", Role: "admin"}
	byCoordKai    = domain.Manager{ID: "u-coord-kai", Role: "coordinator", Area: domain.Area{District: "Kailahun"}}
	byCoordLuawa  = domain.Manager{ID: "u-coord-lua", Role: "coordinator", Area: domain.Area{District: "kailahun ", Chiefdom: "LUAWA"}}
	byCoordNation = domain.Manager{ID: "u-coord-nat", Role: "coordinator"}
	byMobilizer   = domain.Manager{ID: "u-mob-kai", Role: "mobilizer", Area: domain.Area{District: "Kailahun"}}
	byAuditor     = domain.Manager{ID: "u-aud", Role: "auditor"}
	deactivateAs  = func(d *domain.Directory, id string, by domain.Manager) error {
		return d.Deactivate(domain.DeactivateUser{ID: id, Reason: "phone lost", By: by})
	}
	issueAs = func(d *domain.Directory, id string, by domain.Manager) error {
		return d.IssueToken(domain.IssueUserToken{ID: id, TokenHash: []byte{9, 9}, By: by})
	}
)

// Who may switch whom off, and give whom a new token: the same rule for both.
func TestDirectoryManageRules(t *testing.T) {
	cases := []struct {
		name string
		id   string
		by   domain.Manager
		want error // nil: allowed
	}{
		{"admin_any_mobilizer", "u-mob-ken", byAdmin, nil},
		{"admin_a_coordinator", "u-coord-kai", byAdmin, nil},
		{"admin_an_auditor", "u-aud", byAdmin, nil},
		{"coordinator_mobilizer_of_district", "u-mob-1", byCoordKai, nil},
		{"coordinator_mobilizer_of_district_level", "u-mob-kai", byCoordKai, nil},
		{"coordinator_name_case_and_spaces", "u-mob-1", byCoordLuawa, nil},
		{"national_coordinator_any_mobilizer", "u-mob-ken", byCoordNation, nil},
		{"coordinator_mobilizer_of_other_district", "u-mob-ken", byCoordKai, domain.ErrForbidden},
		{"chiefdom_coordinator_district_wide_mobilizer", "u-mob-kai", byCoordLuawa, domain.ErrForbidden},
		{"coordinator_a_coordinator", "u-coord-kai", byCoordKai, domain.ErrForbidden},
		{"coordinator_an_auditor", "u-aud", byCoordNation, domain.ErrForbidden},
		{"mobilizer_anyone", "u-mob-1", byMobilizer, domain.ErrForbidden},
		{"auditor_anyone", "u-mob-1", byAuditor, domain.ErrForbidden},
		{"mobilizer_unknown_is_forbidden_not_404", "nobody", byMobilizer, domain.ErrForbidden},
		{"unknown_user", "nobody", byAdmin, domain.ErrNotFound},
		{"malformed_id", "no body/..", byAdmin, domain.ErrNotFound},
		{"the_admin_token", "admin", byAdmin, domain.ErrTransition},
	}
	for _, op := range []struct {
		name string
		run  func(*domain.Directory, string, domain.Manager) error
		want string
	}{{"deactivate", deactivateAs, "UserDeactivated.v1"}, {"issue_token", issueAs, "UserTokenIssued.v1"}} {
		for _, tc := range cases {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				d := directoryOf(t)
				err := op.run(d, tc.id, tc.by)
				if tc.want == nil {
					mustOK(t, err, op.name)
					wantEvents(t, d, op.want)
					return
				}
				wantError(t, err, tc.want, "")
				wantNoChanges(t, d)
			})
		}
	}
}

func TestDirectoryDeactivate(t *testing.T) {
	t.Run("records_reason_and_wipe", func(t *testing.T) {
		d := directoryOf(t)
		mustOK(t, d.Deactivate(domain.DeactivateUser{ID: "u-mob-1", Reason: "  phone stolen  ", Wipe: true, By: byCoordKai}), "deactivate")
		e, ok := d.Changes()[0].(*domain.UserDeactivated)
		if !ok || e.ID != "u-mob-1" || e.Reason != "phone stolen" || !e.Wipe {
			t.Fatalf("recorded %+v; want u-mob-1, trimmed reason, wipe", d.Changes()[0])
		}
		u, _ := d.User("u-mob-1")
		if !u.Deactivated || u.DeactivateReason != "phone stolen" || !u.Wipe {
			t.Errorf("user after deactivation = %+v", u)
		}
		if !bytes.Equal(u.TokenHash, []byte{0xde, 0xad, 0xbe, 0xef}) {
			t.Errorf("the token hash changed: %x (a deactivated token must still be recognised, to say why)", u.TokenHash)
		}
	})
	t.Run("survives_reload", func(t *testing.T) {
		d := directoryOf(t)
		mustOK(t, deactivateAs(d, "u-mob-1", byAdmin), "deactivate")
		base := directoryOf(t)
		mustOK(t, base.Apply(d.Changes()), "apply")
		if u, _ := base.User("u-mob-1"); !u.Deactivated || u.DeactivateReason != "phone lost" || u.Wipe {
			t.Errorf("after Apply: %+v", u)
		}
		if base.Revision() != d.Revision()+1 {
			t.Errorf("revision %d; want %d", base.Revision(), d.Revision()+1)
		}
	})
	t.Run("twice_is_a_conflict_that_names_the_reason", func(t *testing.T) {
		d := directoryOf(t)
		mustOK(t, deactivateAs(d, "u-mob-1", byAdmin), "first")
		err := d.Deactivate(domain.DeactivateUser{ID: "u-mob-1", Reason: "again", By: byAdmin})
		wantError(t, err, domain.ErrTransition, "")
		if !strings.Contains(err.Error(), "already deactivated") || !strings.Contains(err.Error(), "phone lost") {
			t.Errorf("message %q does not say it is already deactivated and why", err)
		}
		if n := len(d.Changes()); n != 1 {
			t.Errorf("recorded %d events; want 1", n)
		}
	})
	t.Run("no_new_token_once_deactivated", func(t *testing.T) {
		d := directoryOf(t)
		mustOK(t, deactivateAs(d, "u-mob-1", byAdmin), "deactivate")
		wantError(t, issueAs(d, "u-mob-1", byAdmin), domain.ErrTransition, "")
	})
	for _, tc := range []struct {
		name, reason string
	}{
		{"reason_missing", ""},
		{"reason_blank", " \t "},
		{"reason_too_long", strings.Repeat("x", 501)},
		{"reason_control", "lost\x00phone"},
	} {
		t.Run("refuses/"+tc.name, func(t *testing.T) {
			d := directoryOf(t)
			wantInvalid(t, d.Deactivate(domain.DeactivateUser{ID: "u-mob-1", Reason: tc.reason, By: byAdmin}), "reason")
			wantNoChanges(t, d)
		})
	}
	t.Run("reason_at_limit", func(t *testing.T) {
		d := directoryOf(t)
		mustOK(t, d.Deactivate(domain.DeactivateUser{ID: "u-mob-1", Reason: strings.Repeat("é", 500), By: byAdmin}), "deactivate")
	})
}

func TestDirectoryIssueToken(t *testing.T) {
	d := directoryOf(t)
	mustOK(t, d.IssueToken(domain.IssueUserToken{ID: "u-mob-1", TokenHash: []byte{7, 7}, By: byCoordKai}), "issue")
	if u, _ := d.User("u-mob-1"); !bytes.Equal(u.TokenHash, []byte{7, 7}) || u.Deactivated {
		t.Errorf("user after a new token = %+v", u)
	}
	t.Run("without_hash", func(t *testing.T) {
		d := directoryOf(t)
		err := d.IssueToken(domain.IssueUserToken{ID: "u-mob-1", By: byAdmin})
		if got := domain.ErrorCode(err); got != domain.CodeInternal {
			t.Errorf("ErrorCode = %q; want internal", got)
		}
		wantNoChanges(t, d)
	})
}

func TestCreateRefusesTheAdminID(t *testing.T) {
	d, _ := domain.LoadDirectory(nil)
	cmd := createUserCmd()
	cmd.ID = domain.AdminUserID
	wantInvalid(t, d.Create(cmd), "id")
}

func TestDeactivatedError(t *testing.T) {
	err := error(&domain.DeactivatedError{UserID: "u-1", Reason: "phone stolen", Wipe: true})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeUserDeactivated {
		t.Fatalf("errors.As = %+v; want code %s", de, domain.CodeUserDeactivated)
	}
	if !strings.Contains(de.Message, "phone stolen") || !strings.Contains(de.Message, "wipe") {
		t.Errorf("message %q does not name the reason and the wipe", de.Message)
	}
	if domain.ErrorCode(err) != domain.CodeUserDeactivated {
		t.Errorf("ErrorCode = %s", domain.ErrorCode(err))
	}
}
