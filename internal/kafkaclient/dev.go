package kafkaclient

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// DevPasswordPrefix starts every dev password (DevPassword). `strike run` refuses a password
// with it, as a gateway outside `strike dev` refuses a dev API token: anyone who reads the
// source knows these passwords, and only strike dev's embedded broker knows the users.
const DevPasswordPrefix = "strike-dev-only-"

// DevPassword derives user's SASL password on strike dev's broker from a public seed, so the
// credentials strike dev prints (and docs/topics.md uses) are the same at every start.
func DevPassword(seed, user string) string {
	h := sha256.Sum256([]byte("strike-dev-kafka\x00" + seed + "\x00" + user))
	return DevPasswordPrefix + base64.RawURLEncoding.EncodeToString(h[:12])
}

// IsDevPassword reports whether p has the form of a dev password.
func IsDevPassword(p string) bool { return strings.HasPrefix(p, DevPasswordPrefix) }
