package relay_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/relay"
)

// Integrations get no user event: names, token hashes and deactivations
// stay inside.
func TestDefaultTypesLeaveUsersInside(t *testing.T) {
	types := relay.DefaultTypes()
	for _, typ := range types {
		if strings.HasPrefix(typ, "User") || strings.HasPrefix(typ, "ExportRecorded.") {
			t.Errorf("DefaultTypes relays %s", typ)
		}
	}
	if !slices.Contains(types, "ActionPointRaised.v1") {
		t.Errorf("DefaultTypes misses the aggregates' events: %v", types)
	}
}
