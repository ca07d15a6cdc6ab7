package api

import (
	"errors"
	"strconv"

	"github.com/actionledger/actionledger/services/app"
)

// The users list pages by position in the directory; its cursors have the
// same opaque form as the read-model lists' (app.EncodeCursor), so a client
// handles one kind.

func encodeCursor(n int32) string { return app.EncodeCursor(strconv.FormatInt(int64(n), 10)) }

func decodeCursor(s string) (int32, error) {
	key, err := app.DecodeCursor(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(key, 10, 32)
	if err != nil || n < 0 {
		return 0, errors.New("bad cursor")
	}
	return int32(n), nil
}
