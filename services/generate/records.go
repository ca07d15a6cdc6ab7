package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Bodies of the routes, as a phone would send them (fields as in
// api/openapi.json; field order fixed, so files are byte-for-byte stable).
type (
	registerBody struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		District   string `json:"district"`
		Chiefdom   string `json:"chiefdom"`
		Section    string `json:"section,omitempty"`
		Population int    `json:"population"`
		OccurredAt string `json:"occurred_at"`
	}
	triggerBody struct {
		Attendance int    `json:"attendance"`
		OccurredAt string `json:"occurred_at"`
	}
	concern struct {
		Need string `json:"need"`
		Text string `json:"text"`
	}
	visitBody struct {
		Kind        string    `json:"kind"`
		TrustRating int       `json:"trust_rating"`
		Concerns    []concern `json:"concerns,omitempty"`
		OccurredAt  string    `json:"occurred_at"`
	}
	raiseAPBody struct {
		ID          string `json:"id"`
		CommunityID string `json:"community_id"`
		Title       string `json:"title"`
		Category    string `json:"category"`
		Kind        string `json:"kind"`
		DueDate     string `json:"due_date,omitempty"`
		OccurredAt  string `json:"occurred_at"`
	}
	noteBody struct {
		Note       string `json:"note,omitempty"`
		OccurredAt string `json:"occurred_at"`
	}
	evidenceBody struct {
		Evidence   string `json:"evidence,omitempty"`
		OccurredAt string `json:"occurred_at"`
	}
	reasonBody struct {
		Reason     string `json:"reason"`
		OccurredAt string `json:"occurred_at"`
	}
	raiseReferralBody struct {
		ID           string `json:"id"`
		CommunityID  string `json:"community_id"`
		Kind         string `json:"kind"`
		Channel      string `json:"channel"`
		PersonRef    string `json:"person_ref,omitempty"`
		SymptomOnset string `json:"symptom_onset,omitempty"`
		OccurredAt   string `json:"occurred_at"`
	}
	envelopeBody struct {
		OccurredAt string `json:"occurred_at"`
	}
	completeBody struct {
		ArrivedAt  string `json:"arrived_at"`
		Outcome    string `json:"outcome"`
		OccurredAt string `json:"occurred_at"`
	}
	receiveBody struct {
		ID           string `json:"id"`
		CommunityID  string `json:"community_id"`
		Type         string `json:"type"`
		Text         string `json:"text"`
		NeedCategory string `json:"need_category,omitempty"`
		Channel      string `json:"channel"`
		OccurredAt   string `json:"occurred_at"`
	}
	referBody struct {
		To         string `json:"to"`
		OccurredAt string `json:"occurred_at"`
	}
	answerBody struct {
		Response   string `json:"response"`
		OccurredAt string `json:"occurred_at"`
	}
	closeLoopBody struct {
		CommunicatedAt string `json:"communicated_at"`
		Satisfied      bool   `json:"satisfied"`
		OccurredAt     string `json:"occurred_at"`
	}
)

func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// week makes community c's items of week w.
func (g *gen) week(c *community, w int) {
	r := c.rng
	weekStart := Start.AddDate(0, 0, 7*w)
	if w == 0 {
		g.start(c)
	}
	// The week's visit; the first is the initial one, right after the
	// triggering session.
	var at time.Time
	kind := "follow_up"
	if w == 0 {
		at = c.trigAt.Add(time.Duration(1+r.IntN(4)) * time.Hour)
		kind = "initial"
	} else {
		at = weekStart.Add(time.Duration(r.IntN(5))*day + time.Duration(8+r.IntN(9))*time.Hour + time.Duration(r.IntN(60))*time.Minute)
	}
	// Trust drifts upward over the campaign, with setbacks.
	switch x := r.Float64(); {
	case x < 0.18 && c.trust < 5:
		c.trust++
	case x < 0.26 && c.trust > 1:
		c.trust--
	}
	v := visitBody{Kind: kind, TrustRating: c.trust}
	if r.Float64() < 0.3 {
		cn := concerns[r.IntN(len(concerns))]
		v.Concerns = []concern{cn}
	}
	g.add(c, &c.chain, c.mob, at, "VisitRecorded", "POST", "/v1/communities/"+c.id+"/visits", "", func(occ time.Time) any {
		v.OccurredAt = rfc(occ)
		return v
	})
	g.sum.Visits++

	for _, ap := range c.aps {
		g.apSteps(c, ap, w)
	}
	for len(c.referrals) > 0 && c.referrals[0].Before(weekStart.AddDate(0, 0, 7)) {
		g.referral(c, c.referrals[0])
		c.referrals = c.referrals[1:]
	}
	for len(c.feedback) > 0 && c.feedback[0].Before(weekStart.AddDate(0, 0, 7)) {
		g.feedbackItem(c, c.feedback[0])
		c.feedback = c.feedback[1:]
	}
}

// start registers and triggers c in the first week and plans its records.
func (g *gen) start(c *community) {
	r := c.rng
	g.sum.Communities++
	c.trust = 1 + r.IntN(3)
	c.regAt = Start.Add(time.Duration(r.IntN(4))*day + time.Duration(8+r.IntN(3))*time.Hour + time.Duration(r.IntN(60))*time.Minute)
	reg := registerBody{ID: c.id, Name: name(r), District: c.place.district, Chiefdom: c.place.chiefdom,
		Section: c.place.sections[r.IntN(len(c.place.sections))], Population: 150 + r.IntN(3000)}
	g.add(c, &c.chain, c.coord, c.regAt, "CommunityRegistered", "POST", "/v1/communities", "", func(occ time.Time) any {
		reg.OccurredAt = rfc(occ)
		return reg
	})
	trig := triggerBody{Attendance: 40 + r.IntN(260)}
	c.trigAt = g.add(c, &c.chain, c.mob, c.regAt.Add(day+time.Duration(r.IntN(24))*time.Hour), "CommunityTriggered",
		"POST", "/v1/communities/"+c.id+"/triggering", "", func(occ time.Time) any {
			trig.OccurredAt = rfc(occ)
			return trig
		})

	// Action points come out of the community's plan, mostly in the first
	// weeks; their fates were dealt out over the whole nation in plan.
	span := g.end.Sub(c.trigAt)
	n := share(g.sc.ActionPoints, g.sc.Communities, c.idx)
	first := apOffset(g.sc.ActionPoints, g.sc.Communities, c.idx)
	for k := range n {
		raise := c.trigAt.Add(time.Hour + time.Duration(float64(span)*0.15*r.Float64()*r.Float64()))
		c.aps = append(c.aps, g.planAP(c, k+1, raise, g.apFate[first+k]))
	}
	// Referrals and feedback come in all through the campaign, more in the
	// early months when the epidemic peaked.
	early := func() time.Time {
		f := r.Float64()
		f = f * (0.55 + 0.45*f)
		return c.trigAt.Add(2*time.Hour + time.Duration(f*float64(span-2*day)))
	}
	for range c.nRef {
		c.referrals = append(c.referrals, early())
	}
	for range c.nFb {
		c.feedback = append(c.feedback, early())
	}
	slices.SortFunc(c.referrals, func(a, b time.Time) int { return a.Compare(b) })
	slices.SortFunc(c.feedback, func(a, b time.Time) int { return a.Compare(b) })
}

// apOffset is the index of community idx's first action point.
func apOffset(total, n, idx int) int {
	s, rem := total/n, total%n
	return idx*s + min(idx, rem)
}

// apPlan is an action point and the steps still to come.
type apPlan struct {
	id    string
	ch    chain
	steps []apStep
}

type apStep struct {
	at     time.Time
	action string // raise, start, progress, achieve, drop, reopen
	text   string
	raise  *raiseAPBody
}

var apActions = []struct{ title, category, kind string }{
	{"Hand-washing stations at the market and the school", "hygiene", "one_off"},
	{"Chlorine buckets at every compound entrance", "hygiene", "one_off"},
	{"Watch for visitors and report strangers to the chief", "surveillance", "continuous"},
	{"Check every household for fever each morning", "surveillance", "continuous"},
	{"Call 117 for every death in the community", "safe_burial", "continuous"},
	{"No washing or touching of bodies", "by_law", "one_off"},
	{"By-law: sick people are reported the same day", "by_law", "one_off"},
	{"Build a holding shelter for sick people waiting for the ambulance", "isolation", "one_off"},
	{"Set aside a house for quarantined families", "isolation", "one_off"},
	{"Escort suspected cases to the holding centre", "referral", "continuous"},
	{"Welcome back survivors at a community meeting", "stigma", "one_off"},
	{"Food and water for quarantined households", "other", "continuous"},
}

var progressNotes = []string{
	"Agreed at the community meeting", "Materials collected", "Youth group doing it every week",
	"Half the compounds done", "Chief reminded everyone on market day", "Buckets refilled",
	"Task force met and checked", "Women's group took it on",
}

// planAP lays out an action point's life so it ends with fate at the end
// of the campaign.
func (g *gen) planAP(c *community, k int, raise time.Time, fate string) *apPlan {
	r := c.rng
	act := apActions[r.IntN(len(apActions))]
	ap := &apPlan{id: c.id + "-AP" + strconv.Itoa(k)}
	body := &raiseAPBody{ID: ap.id, CommunityID: c.id, Title: act.title, Category: act.category, Kind: act.kind}
	if act.kind == "one_off" {
		body.DueDate = raise.AddDate(0, 0, 14+r.IntN(56)).Format(time.DateOnly)
	}
	ap.steps = append(ap.steps, apStep{at: raise, action: "raise", raise: body})
	g.sum.ActionPoints++
	g.sum.ActionPointsBy[fate]++
	left := g.end.Add(-day).Sub(raise)
	at := func(f float64) time.Time { return raise.Add(time.Duration(f * float64(left))) }
	note := func() string { return progressNotes[r.IntN(len(progressNotes))] }
	startF := 0.02 + 0.2*r.Float64()
	switch fate {
	case "open":
	case "dropped":
		if r.IntN(2) == 0 {
			ap.steps = append(ap.steps, apStep{at: at(startF), action: "start", text: note()})
		}
		ap.steps = append(ap.steps, apStep{at: at(startF + 0.1 + 0.5*r.Float64()), action: "drop", text: "The community chose another way"})
	case "in_progress", "achieved":
		ap.steps = append(ap.steps, apStep{at: at(startF), action: "start", text: note()})
		f := startF
		for range 1 + r.IntN(7) {
			f += (0.95 - f) * (0.1 + 0.4*r.Float64())
			ap.steps = append(ap.steps, apStep{at: at(f), action: "progress", text: note()})
		}
		switch {
		case fate == "achieved":
			f += (0.98 - f) * (0.2 + 0.6*r.Float64())
			ap.steps = append(ap.steps, apStep{at: at(f), action: "achieve", text: "Seen on the follow-up visit"})
		case r.Float64() < 0.06:
			// Achieved, then it lapsed: back in progress.
			f += (0.95 - f) * (0.2 + 0.3*r.Float64())
			ap.steps = append(ap.steps, apStep{at: at(f), action: "achieve", text: "Done"})
			f += (0.98 - f) * (0.2 + 0.5*r.Float64())
			ap.steps = append(ap.steps, apStep{at: at(f), action: "reopen", text: "Stopped after the rains"})
		}
	}
	return ap
}

// apSteps makes the steps of ap that fall in week w.
func (g *gen) apSteps(c *community, ap *apPlan, w int) {
	until := Start.AddDate(0, 0, 7*(w+1))
	for len(ap.steps) > 0 && (ap.steps[0].at.Before(until) || w == g.sc.Weeks-1) {
		s := ap.steps[0]
		ap.steps = ap.steps[1:]
		path := "/v1/action-points/" + ap.id + "/" + s.action
		ifMatch := etag(ap.ch.rev)
		var event string
		var body func(time.Time) any
		switch s.action {
		case "raise":
			path, ifMatch, event = "/v1/action-points", "", "ActionPointRaised"
			body = func(occ time.Time) any { s.raise.OccurredAt = rfc(occ); return s.raise }
		case "start", "progress":
			event = map[string]string{"start": "ActionPointStarted", "progress": "ActionPointProgressNoted"}[s.action]
			body = func(occ time.Time) any { return noteBody{Note: s.text, OccurredAt: rfc(occ)} }
		case "achieve":
			event = "ActionPointAchieved"
			body = func(occ time.Time) any { return evidenceBody{Evidence: s.text, OccurredAt: rfc(occ)} }
		case "drop", "reopen":
			event = map[string]string{"drop": "ActionPointDropped", "reopen": "ActionPointReopened"}[s.action]
			body = func(occ time.Time) any { return reasonBody{Reason: s.text, OccurredAt: rfc(occ)} }
		}
		g.add(c, &ap.ch, c.mob, s.at, event, "POST", path, ifMatch, body)
	}
}

var concerns = []concern{
	{"basic", "Quarantined households are short of food"},
	{"basic", "No clean water point since the pump broke"},
	{"respect", "Burial teams did not speak to the family"},
	{"security", "Fear of the treatment centre"},
	{"security", "Rumours that the ambulance takes people away for good"},
	{"capacity", "No transport to the health post"},
	{"social_support", "Orphans left without care"},
	{"social_support", "Survivors are kept away from the water point"},
	{"autonomy", "Decisions taken without the chiefs"},
}

// referral makes a referral raised at at, and what follows it.
func (g *gen) referral(c *community, at time.Time) {
	r := c.rng
	c.nRef--
	g.sum.Referrals++
	c.refK++
	id := fmt.Sprintf("%s-R%d", c.id, c.refK)
	ch := &chain{}
	kind := "suspected_case"
	switch x := r.Float64(); {
	case x < 0.33:
		kind = "death_alert"
	case x < 0.42:
		kind = "other"
	}
	channel := "mobilizer"
	switch x := r.Float64(); {
	case x < 0.25:
		channel = "hotline_117"
	case x < 0.3:
		channel = "other"
	}
	body := raiseReferralBody{ID: id, CommunityID: c.id, Kind: kind, Channel: channel}
	if kind != "death_alert" {
		body.PersonRef = fmt.Sprintf("P-%06x", r.Uint32()&0xffffff)
	}
	// Most suspected cases are reported within a day of the first symptoms.
	var onsetBefore time.Duration
	if kind == "suspected_case" {
		if r.Float64() < 0.62 {
			onsetBefore = time.Duration(1+r.IntN(23)) * time.Hour
		} else {
			onsetBefore = time.Duration(24+r.IntN(96)) * time.Hour
		}
	}
	raised := g.add(c, ch, c.mob, at, "ReferralRaised", "POST", "/v1/referrals", "", func(occ time.Time) any {
		body.OccurredAt = rfc(occ)
		if kind == "suspected_case" {
			body.SymptomOnset = rfc(occ.Add(-onsetBefore))
		}
		return body
	})
	path := "/v1/referrals/" + id
	env := func(occ time.Time) any { return envelopeBody{OccurredAt: rfc(occ)} }
	switch x := r.Float64(); {
	case x < 0.03: // never acknowledged (yet)
		return
	case x < 0.06: // cancelled before acknowledgement
		g.add(c, ch, c.coord, raised.Add(time.Duration(2+r.IntN(48))*time.Hour), "ReferralCancelled", "POST", path+"/cancel", "",
			func(occ time.Time) any { return reasonBody{Reason: "Raised twice", OccurredAt: rfc(occ)} })
		return
	}
	acked := g.add(c, ch, c.coord, raised.Add(time.Duration(30+r.IntN(600))*time.Minute), "ReferralAcknowledged", "POST", path+"/acknowledge", "", env)
	switch x := r.Float64(); {
	case x < 0.03: // acknowledged, still waiting
		return
	case x < 0.05:
		g.add(c, ch, c.coord, acked.Add(time.Duration(2+r.IntN(24))*time.Hour), "ReferralCancelled", "POST", path+"/cancel", "",
			func(occ time.Time) any {
				return reasonBody{Reason: "Person recovered before the team came", OccurredAt: rfc(occ)}
			})
		return
	}
	outcome := "admitted"
	switch x := r.Float64(); kind {
	case "death_alert":
		outcome = "safe_burial"
		if x < 0.1 {
			outcome = "unsafe_burial"
		} else if x < 0.14 {
			outcome = "other"
		}
	case "suspected_case":
		switch {
		case x < 0.08:
			outcome = "refused"
		case x < 0.15:
			outcome = "not_found"
		case x < 0.22:
			outcome = "other"
		}
	default:
		if x < 0.5 {
			outcome = "other"
		}
	}
	arrived := acked.Add(time.Duration(60+r.IntN(40*60)) * time.Minute)
	completer := c.coord
	if r.IntN(2) == 0 {
		completer = c.mob
	}
	done := g.add(c, ch, completer, arrived.Add(time.Duration(1+r.IntN(6))*time.Hour), "ReferralCompleted", "POST", path+"/complete", "",
		func(occ time.Time) any {
			a := arrived
			if a.After(occ) {
				a = occ
			}
			return completeBody{ArrivedAt: rfc(a), Outcome: outcome, OccurredAt: rfc(occ)}
		})
	if r.Float64() < 0.88 {
		g.add(c, ch, c.coord, done.Add(time.Duration(1+r.IntN(5))*day), "ReferralClosed", "POST", path+"/close", "", env)
	}
}

var feedbackTypes = []struct {
	typ   string
	share float64
	texts []string
}{
	{"question", 0.30, []string{"Can survivors infect others?", "Why must we not touch the sick?", "Is the water from the stream safe?", "How long does quarantine last?"}},
	{"concern", 0.20, []string{"Quarantined homes have no food", "The holding centre is too far", "Children are out of school"}},
	{"complaint", 0.10, []string{"The ambulance came two days late", "Burial team took the body without the family", "Promised rice did not arrive"}},
	{"rumour", 0.20, []string{"People say the chlorine spreads the disease", "They say the treatment centre kills people", "Some say the disease is a curse"}},
	{"suggestion", 0.08, []string{"Let the youth man the checkpoint", "Use the church bell to call meetings"}},
	{"appreciation", 0.07, []string{"Thanks for the buckets", "The survivors' meeting helped"}},
	{"refusal", 0.05, []string{"A family refused the burial team", "Traders refused the checkpoint"}},
}

var needsOf = map[string][]string{
	"question": {"security", "capacity"}, "concern": {"basic", "social_support", "capacity"},
	"complaint": {"respect", "basic", "capacity"}, "rumour": {"security", "respect"},
	"suggestion": {"autonomy", "capacity"}, "appreciation": {"social_support"}, "refusal": {"respect", "autonomy"},
}

// feedbackItem makes a feedback item received at at, and its loop.
func (g *gen) feedbackItem(c *community, at time.Time) {
	r := c.rng
	c.nFb--
	g.sum.Feedback++
	c.fbK++
	id := fmt.Sprintf("%s-F%d", c.id, c.fbK)
	ch := &chain{}
	ft := pickType(r)
	body := receiveBody{ID: id, CommunityID: c.id, Type: ft.typ, Text: ft.texts[r.IntN(len(ft.texts))], Channel: "mobilizer"}
	if r.Float64() < 0.85 {
		ns := needsOf[ft.typ]
		body.NeedCategory = ns[r.IntN(len(ns))]
	}
	if r.Float64() < 0.1 {
		body.Channel = "hotline_117"
	}
	got := g.add(c, ch, c.mob, at, "FeedbackReceived", "POST", "/v1/feedback", "", func(occ time.Time) any {
		body.OccurredAt = rfc(occ)
		return body
	})
	path := "/v1/feedback/" + id
	if ft.typ == "appreciation" && r.Float64() < 0.7 || r.Float64() < 0.1 {
		return // nothing to refer
	}
	to := []string{"DHMT " + c.place.district, "Social mobilisation pillar, " + c.place.district, "Burial team supervisor", "Paramount Chief, " + c.place.chiefdom}[r.IntN(4)]
	referred := g.add(c, ch, c.coord, got.Add(time.Duration(6+r.IntN(66))*time.Hour), "FeedbackReferred", "POST", path+"/refer", "",
		func(occ time.Time) any { return referBody{To: to, OccurredAt: rfc(occ)} })
	if r.Float64() < 0.06 {
		return
	}
	answered := g.add(c, ch, c.coord, referred.Add(time.Duration(1+r.IntN(9))*day+time.Duration(r.IntN(24))*time.Hour), "FeedbackAnswered", "POST", path+"/answer", "",
		func(occ time.Time) any {
			return answerBody{Response: "Answered by the " + to + " at the community meeting", OccurredAt: rfc(occ)}
		})
	if r.Float64() < 0.1 {
		return
	}
	satisfied := r.Float64() < 0.8
	g.add(c, ch, c.mob, answered.Add(time.Duration(1+r.IntN(13))*day), "FeedbackLoopClosed", "POST", path+"/close-loop", "",
		func(occ time.Time) any {
			return closeLoopBody{CommunicatedAt: rfc(occ.Add(-time.Duration(r.IntN(6)) * time.Hour)), Satisfied: satisfied, OccurredAt: rfc(occ)}
		})
}

func pickType(r *rand.Rand) struct {
	typ   string
	share float64
	texts []string
} {
	x := r.Float64()
	for _, ft := range feedbackTypes {
		if x < ft.share {
			return ft
		}
		x -= ft.share
	}
	return feedbackTypes[0]
}
