package app

import "github.com/actionledger/actionledger/domain"

// stepRule is who may take one lifecycle step, and how a refusal names it.
type stepRule struct {
	action string
	roles  []string
}

// stepRoles is the one place that says which role may take which step of
// which kind of case: the command handlers refuse everyone else with it, and
// Steps offers from it, so a page never offers a step its handler refuses.
var stepRoles = map[string]map[string]stepRule{
	CaseCommunity: {
		domain.StepTrigger:     {"register a triggering session", []string{domain.RoleMobilizer}},
		domain.StepRecordVisit: {"record a visit", []string{domain.RoleMobilizer}},
	},
	CaseActionPoint: {
		domain.StepStart:        {"start an action point", []string{domain.RoleMobilizer}},
		domain.StepNoteProgress: {"note progress on an action point", []string{domain.RoleMobilizer}},
		domain.StepAchieve:      {"achieve an action point", []string{domain.RoleMobilizer}},
		domain.StepDrop:         {"drop an action point", []string{domain.RoleMobilizer, domain.RoleCoordinator}},
		domain.StepReopen:       {"reopen an action point", []string{domain.RoleMobilizer, domain.RoleCoordinator}},
	},
	CaseReferral: {
		domain.StepAcknowledge: {"acknowledge a referral", []string{domain.RoleCoordinator}},
		domain.StepComplete:    {"complete a referral", []string{domain.RoleCoordinator, domain.RoleMobilizer}},
		domain.StepClose:       {"close a referral", []string{domain.RoleCoordinator}},
		domain.StepCancel:      {"cancel a referral", []string{domain.RoleCoordinator}},
	},
	CaseFeedback: {
		domain.StepRefer:     {"refer feedback", []string{domain.RoleCoordinator}},
		domain.StepAnswer:    {"answer feedback", []string{domain.RoleCoordinator}},
		domain.StepCloseLoop: {"close a feedback loop", []string{domain.RoleMobilizer, domain.RoleCoordinator}},
	},
}

// lifecycleSteps is the domain's answer to which steps a status allows, per
// kind of case.
var lifecycleSteps = map[string]func(status string) []string{
	CaseCommunity:   domain.CommunitySteps,
	CaseActionPoint: domain.ActionPointSteps,
	CaseReferral:    domain.ReferralSteps,
	CaseFeedback:    domain.FeedbackSteps,
}

// requireStep refuses an actor whose role may not take step on kind. A step
// missing from stepRoles is refused for everyone.
func requireStep(a Actor, kind, step string) error {
	r, ok := stepRoles[kind][step]
	if !ok {
		return domain.Errorf(domain.CodeForbidden, "nobody may %s a %s", step, kind)
	}
	return requireRole(a, r.action, r.roles...)
}

// Steps returns the lifecycle steps actor may take on a case of kind whose
// status is status: those the domain's lifecycle allows from status that the
// actor's role may take, in the lifecycle's order. The case's area is the
// caller's to have checked (the case queries refuse other areas).
func Steps(actor Actor, kind, status string) []string {
	allowed, ok := lifecycleSteps[kind]
	if !ok {
		return nil
	}
	var out []string
	for _, s := range allowed(status) {
		if requireStep(actor, kind, s) == nil {
			out = append(out, s)
		}
	}
	return out
}
