package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/places"
)

// RegisterCommunity registers a community in its place chain.
type RegisterCommunity struct {
	Meta
	ID         string
	Name       string
	Place      domain.Place
	Population int
}

// NewRegisterCommunityHandler returns the decorated handler. The district
// and chiefdom must be in the places list and are stored in its spelling.
func NewRegisterCommunityHandler(w *Writer, pl *places.Catalogue, d Decorators) Handler[RegisterCommunity] {
	return decorate(d, "register_community", HandlerFunc[RegisterCommunity](func(ctx context.Context, c RegisterCommunity) (Result, error) {
		if err := requireRole(c.Actor, "register a community", domain.RoleCoordinator, domain.RoleAdmin); err != nil {
			return Result{}, err
		}
		id, err := createID(&c.Meta, c.ID)
		if err != nil {
			return Result{}, err
		}
		if c.Place, err = pl.ResolvePlace(c.Place); err != nil {
			return Result{}, err
		}
		return created(update(ctx, w, &c.Meta, domain.CommunityStream(id), id, domain.LoadCommunity, nil, func(cm *domain.Community) error {
			if err := requireArea(c.Actor, c.Place); err != nil {
				return err
			}
			return cm.Register(domain.RegisterCommunity{ID: id, Name: c.Name, Place: c.Place, Population: c.Population})
		}))
	}))
}
