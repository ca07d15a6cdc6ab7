package api

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Cursors of the users list are opaque to clients: a version byte and a
// number, base64url (the read-model lists page in services/app). The
// version lets the paging scheme change without old cursors being misread.
const cursorVersion = 1

func encodeCursor(n int32) string {
	b := binary.AppendUvarint([]byte{cursorVersion}, uint64(n))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (int32, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != cursorVersion {
		return 0, errors.New("bad cursor")
	}
	n, k := binary.Uvarint(b[1:])
	if k != len(b)-1 || n > 1<<31-1 {
		return 0, errors.New("bad cursor")
	}
	return int32(n), nil
}
