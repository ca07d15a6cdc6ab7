package api

// StatusOf exposes the code→status table to the OpenAPI conformance test,
// which checks that the document lists exactly these codes with these
// statuses.
var StatusOf = statusOf

// DecodeVisit decodes body as POST /v1/communities/{id}/visits does (strict
// keys, nested list, UTF-8), for the fuzz target of the request decoder.
func DecodeVisit(body []byte) error {
	var b visitBody
	return decodeJSON(body, &b)
}

// DecodeActionPoint decodes body as POST /v1/action-points does.
func DecodeActionPoint(body []byte) error {
	var b raiseActionPointBody
	return decodeJSON(body, &b)
}

// ReadSyncBatch parses a sync batch as POST /v1/sync does.
var ReadSyncBatch = readSyncBatch

// MaxBody is the largest command body.
const MaxBody = maxBody
