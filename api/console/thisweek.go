package console

import (
	"context"

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
}

type placeRow struct {
	Name  string
	Trust projections.TrustWeek
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
		v.Falling = append(v.Falling, placeRow{Name: name, Trust: k.Latest})
	}
	return v, nil
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
