package app

// EventID exposes how event ids are derived from an idempotency key, for
// the test that pins them to uuid.NewSHA1 (stored ids must never change).
var EventID = eventID

// IDNamespace is the namespace event ids are derived in.
var IDNamespace = idNamespace

// DerivedID exposes how a create's aggregate id is derived from its key.
var DerivedID = derivedID
