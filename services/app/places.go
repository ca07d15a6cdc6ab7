package app

import (
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/places"
)

// PlaceTree is the part of the places list an actor works in, for pickers:
// everything for a national user, their district for a district user, and
// their district with only their chiefdom for a chiefdom user. Every role
// may ask.
func (a *Application) PlaceTree(actor Actor) ([]places.District, error) {
	if err := requireRole(actor, "list places", domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin); err != nil {
		return nil, err
	}
	return a.Places.Tree(actor.Area), nil
}
