package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// cursor is a position in an ECO list: the (created_at, eco_id) of the last item returned, and a
// fingerprint of the list it belongs to, so a cursor is refused on another tenant's or another
// filter's list instead of silently paging something else. Clients treat it as opaque.
type cursor struct {
	V  int       `json:"v"`
	At time.Time `json:"at"`
	ID string    `json:"id"`
	F  string    `json:"f"`
}

var errBadCursor = errors.New("cursor is not one this API issued")

// listFingerprint identifies a list: tenant and filters.
func listFingerprint(kind, tenant, status, since, q string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + tenant + "\x00" + status + "\x00" + since + "\x00" + q))
	return hex.EncodeToString(h[:8])
}

func encodeCursor(at time.Time, id, fingerprint string) string {
	raw, _ := json.Marshal(cursor{V: 1, At: at.UTC(), ID: id, F: fingerprint})
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor parses a client-supplied cursor; every failure is errBadCursor (the client
// cannot fix a cursor, only drop it).
func decodeCursor(s, fingerprint string) (cursor, error) {
	var c cursor
	if len(s) > 512 {
		return c, errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errBadCursor
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errBadCursor
	}
	if c.V != 1 || c.At.IsZero() || c.F != fingerprint {
		return c, errBadCursor
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		return c, errBadCursor
	}
	return c, nil
}
