package app

import (
	"github.com/actionledger/actionledger/domain"
)

// RequireRole refuses an actor whose role is not one of roles; action says
// what was refused, for the message.
func RequireRole(a Actor, action string, roles ...string) error {
	return requireRole(a, action, roles...)
}

// ReadScope decides which part of the country an actor may read indicators
// or lists for, and narrows an unscoped request to the actor's own area: a
// coordinator of Kenema asking for "everything" sees Kenema. roles are the
// roles the route admits.
func ReadScope(a Actor, asked domain.Area, communityPlace *domain.Place, roles ...string) (domain.Area, error) {
	if err := requireRole(a, "read this", roles...); err != nil {
		return domain.Area{}, err
	}
	if communityPlace != nil {
		if err := requireArea(a, *communityPlace); err != nil {
			return domain.Area{}, err
		}
	}
	if asked.District == "" && asked.Chiefdom != "" {
		return domain.Area{}, domain.FieldError("district", "is required when chiefdom is given")
	}
	if asked.District == "" {
		return a.Area, nil
	}
	if asked.Chiefdom == "" && a.Area.Chiefdom != "" && domain.PlaceKey(asked.District) == domain.PlaceKey(a.Area.District) {
		return a.Area, nil
	}
	if !a.Area.Covers(asked) {
		return domain.Area{}, domain.Errorf(domain.CodeForbidden, "outside your area")
	}
	return asked, nil
}
