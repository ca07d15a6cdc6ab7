package domain

import "slices"

// Lifecycle steps, named as the commands that take them. The aggregates
// refuse a step its state does not allow from the tables below, and readers
// (a page offering only the buttons that can work) ask the same tables
// through the Steps functions, so the two cannot disagree.
const (
	StepTrigger     = "trigger"
	StepRecordVisit = "record_visit"

	StepStart        = "start"
	StepNoteProgress = "note_progress"
	StepAchieve      = "achieve"
	StepDrop         = "drop"
	StepReopen       = "reopen"

	StepAcknowledge = "acknowledge"
	StepComplete    = "complete"
	StepClose       = "close"
	StepCancel      = "cancel"

	StepRefer     = "refer"
	StepAnswer    = "answer"
	StepCloseLoop = "close_loop"
)

// transition is one row of a lifecycle table: a step, the words a refusal
// uses for it, and the statuses it may be taken from.
type transition struct {
	step string
	verb string
	from []string
}

// lifecycle is one aggregate's transition table, as PRODUCT.md draws it.
type lifecycle struct {
	aggregate   string
	transitions []transition
}

var (
	communityLifecycle = lifecycle{aggregate: "community", transitions: []transition{
		{StepTrigger, "trigger", []string{StatusRegistered}},
		{StepRecordVisit, "record a visit for", []string{StatusTriggered, StatusUnderFollowUp}},
	}}
	actionPointLifecycle = lifecycle{aggregate: "action point", transitions: []transition{
		{StepStart, "start", []string{StatusOpen}},
		{StepNoteProgress, "note progress on", []string{StatusOpen, StatusInProgress}},
		{StepAchieve, "achieve", []string{StatusInProgress}},
		{StepDrop, "drop", []string{StatusOpen, StatusInProgress}},
		{StepReopen, "reopen", []string{StatusAchieved, StatusDropped}},
	}}
	referralLifecycle = lifecycle{aggregate: "referral", transitions: []transition{
		{StepAcknowledge, "acknowledge", []string{StatusRaised}},
		{StepComplete, "complete", []string{StatusAcknowledged}},
		{StepClose, "close", []string{StatusCompleted}},
		{StepCancel, "cancel", []string{StatusRaised, StatusAcknowledged}},
	}}
	feedbackLifecycle = lifecycle{aggregate: "feedback item", transitions: []transition{
		{StepRefer, "refer", []string{StatusReceived}},
		{StepAnswer, "answer", []string{StatusReferred}},
		{StepCloseLoop, "close the loop of", []string{StatusAnswered}},
	}}
)

// check refuses step from status with a TransitionError. A step missing
// from the table is a programming error in this package, so it panics
// rather than letting an unlisted step through.
func (l lifecycle) check(status, step string) error {
	for _, t := range l.transitions {
		if t.step != step {
			continue
		}
		if slices.Contains(t.from, status) {
			return nil
		}
		return &TransitionError{Aggregate: l.aggregate, Action: t.verb, From: status, Allowed: slices.Clone(t.from)}
	}
	panic("domain: step " + step + " is not in the " + l.aggregate + " lifecycle")
}

// steps lists the steps status allows, in the table's order.
func (l lifecycle) steps(status string) []string {
	var out []string
	for _, t := range l.transitions {
		if slices.Contains(t.from, status) {
			out = append(out, t.step)
		}
	}
	return out
}

// CommunitySteps returns the steps a community in status may take.
func CommunitySteps(status string) []string { return communityLifecycle.steps(status) }

// ActionPointSteps returns the steps an action point in status may take.
func ActionPointSteps(status string) []string { return actionPointLifecycle.steps(status) }

// ReferralSteps returns the steps a referral in status may take.
func ReferralSteps(status string) []string { return referralLifecycle.steps(status) }

// FeedbackSteps returns the steps a feedback item in status may take.
func FeedbackSteps(status string) []string { return feedbackLifecycle.steps(status) }
