package console

import (
	"context"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// weekView is the "This week" page: the figures a coordinator looks at
// first, for their own area.
type weekView struct {
	Area       domain.Area
	At         string // server time of the page, UTC
	Position   uint64 // how far into the log the figures go
	Completion projections.CompletionStats
	// Trust is the latest week of the area's trend with an index (Week is
	// empty when there is none).
	Trust projections.TrustWeek
	// Falling are the places one level down whose trust is falling.
	Falling []placeRow
	// Children is how many places one level down have a trust figure.
	Children int
	// Waiting is what waits on someone, each linking to its list; nil when
	// the console serves no lists (Config.App unset).
	Waiting *waiting
}

// waiting counts what the work lists and the users list show by default:
// referrals not acknowledged a day after they were raised, feedback loops
// open a week after, and mobilizers silent for mobilizerSilentDays.
type waiting struct {
	Referrals, Feedback count
	// Silent is nil for a role that may not list users.
	Silent *count
}

// count is a list's length, up to the largest page the lists give: More
// says there are more than N.
type count struct {
	N    int
	More bool
}

// mobilizerSilentDays: a mobilizer whose last write is older, or who never
// wrote, has not synced (issue 10: "mobilizers not synced for 3 days").
const mobilizerSilentDays = 3

type placeRow struct {
	Name  string
	Trust projections.TrustWeek
	// Href is the place's trends page.
	Href string
}

// thisWeek asks the read models, through the JSON API's scoping, for the
// actor's own area.
func (c *Console) thisWeek(ctx context.Context, actor app.Actor) (*weekView, error) {
	var own domain.Area // zero: the actor's own area, as the JSON API reads it
	comp, pos, err := c.cfg.Reads.Completion(ctx, actor, own)
	if err != nil {
		return nil, err
	}
	trust, tpos, err := c.cfg.Reads.Trust(ctx, actor, own)
	if err != nil {
		return nil, err
	}
	kids, kpos, err := c.cfg.Reads.ChildTrust(ctx, actor, own)
	if err != nil {
		return nil, err
	}
	v := &weekView{
		Area: actor.Area, At: c.cfg.Clock().UTC().Format("2006-01-02 15:04") + " UTC",
		Position: min(pos, tpos), Completion: comp, Trust: latest(trust.Series),
	}
	if kpos > 0 {
		v.Position = min(v.Position, kpos)
	}
	for _, k := range kids {
		if k.Latest.Index != nil {
			v.Children++
		}
		if !k.Latest.Falling {
			continue
		}
		name := k.CommunityID
		switch {
		case name != "":
		case k.Chiefdom != "":
			name = placeName(k.Chiefdom)
		default:
			name = placeName(k.District)
		}
		v.Falling = append(v.Falling, placeRow{Name: name, Trust: k.Latest,
			Href: "/trends" + placeQuery(domain.Area{District: k.District, Chiefdom: k.Chiefdom}, k.CommunityID)})
	}
	if c.cfg.App != nil {
		if v.Waiting, err = c.waiting(ctx, actor); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// waiting asks the very queries the work lists and GET /v1/referrals,
// /v1/feedback and /v1/users answer with, with the lists' default filters;
// each count is one page of the largest size, so the page costs one read
// of each list however long the backlog.
func (c *Console) waiting(ctx context.Context, actor app.Actor) (*waiting, error) {
	list := app.ListRequest{Limit: app.MaxLimit}
	refs, err := c.cfg.App.Reads.Referrals(ctx, actor, app.ReferralListRequest{ListRequest: list,
		Status: domain.StatusRaised, OlderThanHours: referralWaitHours})
	if err != nil {
		return nil, err
	}
	open := false
	fb, err := c.cfg.App.Reads.Feedback(ctx, actor, app.FeedbackListRequest{ListRequest: list,
		LoopClosed: &open, OlderThanDays: feedbackWaitDays})
	if err != nil {
		return nil, err
	}
	w := &waiting{
		Referrals: count{N: len(refs.Items), More: refs.NextCursor != ""},
		Feedback:  count{N: len(fb.Items), More: fb.NextCursor != ""},
	}
	if actor.Role != domain.RoleAdmin && actor.Role != domain.RoleCoordinator {
		return w, nil
	}
	silent, err := c.silentMobilizers(actor)
	if err != nil {
		return nil, err
	}
	w.Silent = &silent
	return w, nil
}

// silentMobilizers counts the active mobilizers the actor may list (a
// coordinator's own area; every one for an admin) whose last write, as the
// users list's last_seen shows it, is older than mobilizerSilentDays, or who
// never wrote.
func (c *Console) silentMobilizers(actor app.Actor) (count, error) {
	active := true
	f := app.UserFilter{Role: domain.RoleMobilizer, Active: &active}
	since := c.cfg.Clock().Add(-mobilizerSilentDays * 24 * time.Hour)
	var n int
	var after int32
	for {
		users, next, err := c.cfg.App.Auth.ListUsers(actor, f, after, app.MaxLimit)
		if err != nil {
			return count{}, err
		}
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		var seen map[string]time.Time
		if len(ids) > 0 {
			seen = c.cfg.Ops.LastSeen(ids)
		}
		for _, id := range ids {
			if t, ok := seen[id]; !ok || t.Before(since) {
				n++
			}
		}
		if next == 0 {
			return count{N: n}, nil
		}
		after = next
	}
}

// latest is the last week of a trend with an index: the same choice
// projections.ChildTrust makes for each place below.
func latest(series []projections.TrustWeek) projections.TrustWeek {
	for i := len(series) - 1; i >= 0; i-- {
		if series[i].Index != nil {
			return series[i]
		}
	}
	return projections.TrustWeek{}
}
