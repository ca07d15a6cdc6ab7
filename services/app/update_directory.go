package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// updateDirectory is update on the users stream. The directory is one
// aggregate over every user, kept between commands like any other
// (aggregateCache): folding the whole stream again for each command made
// creating n users cost n² (25,000 mobilizers at ten times CLEA).
func updateDirectory(ctx context.Context, w *Writer, m *Meta, id string, guard, decide func(*domain.Directory) error) (Result, error) {
	return update(ctx, w, m, domain.UsersStream, id, domain.LoadDirectory, guard, decide)
}
