package api

import (
	"bytes"
	"reflect"
)

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

// DecodeBothWays decodes body as the request type named by kind ("visit",
// "action point", "sync batch", "sync item") twice: as every route does
// (decodeJSON) and with the strict decoder alone, for FuzzDecodeAsStrict.
func DecodeBothWays(body []byte, kind string) (got, want any, gotErr, wantErr error) {
	fresh := func() any {
		switch kind {
		case "visit":
			return &visitBody{}
		case "action point":
			return &raiseActionPointBody{}
		case "sync batch":
			return &syncRequest{}
		default:
			return &SyncItem{}
		}
	}
	got, want = fresh(), fresh()
	gotErr = decodeJSON(body, got)
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if wantErr = checkKeys(body, reflect.TypeOf(want)); wantErr == nil {
		wantErr = decodeStrict(body, want)
	}
	return got, want, gotErr, wantErr
}
