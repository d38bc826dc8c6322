package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
)

// Browser sign-in (producers/gateway/web): a password per user, stored as an argon2id hash
// (RFC 9106) with OWASP's minimum parameters for argon2id (19 MiB, 2 passes, 1 lane), in the PHC
// string format so the parameters can be raised later without invalidating stored hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32

	// MinPasswordLen and MaxPasswordLen bound a password in characters; the upper bound keeps one
	// sign-in's hashing cost fixed.
	MinPasswordLen = 12
	MaxPasswordLen = 200
)

// ErrBadCredentials is the one answer to a failed sign-in: unknown email, wrong password, no
// password set and (outside dev) a dev password all look the same to the caller.
var ErrBadCredentials = errors.New("email or password is wrong")

// HashPassword returns the argon2id PHC string of password with a fresh salt.
func HashPassword(password string) string {
	var salt [16]byte
	_, _ = rand.Read(salt[:]) // crypto/rand never fails on supported platforms
	return phc(password, salt[:], argonMemoryKiB, argonTime, argonThreads)
}

func phc(password string, salt []byte, m uint32, t uint32, p uint8) string {
	key := argon2.IDKey([]byte(password), salt, t, m, p, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword reports whether password matches the PHC string; a malformed hash never
// matches.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 256*1024 || t == 0 || t > 10 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the email has no password, so an unknown email costs the
// same time as a wrong password.
var dummyHash = phc("no such user", []byte("strike-dummy-salt"), argonMemoryKiB, argonTime, argonThreads)

// DevPassword derives a sign-in password from a dev-only seed and an email: `strike dev` prints
// the same passwords at every start. Stored with the dev mark, it is refused by a gateway outside
// dev mode (Config.DevMode), like DevToken.
func DevPassword(seed, email string) string {
	h := sha256.Sum256([]byte("strike-dev-password\x00" + seed + "\x00" + email))
	return "dev-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:10]))
}

// SetPassword sets a user's sign-in password; dev marks it as derived from strike dev's public
// seed (DevPassword).
func (a Accounts) SetPassword(ctx context.Context, email, password string, dev bool) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return fmt.Errorf("%w: a password has %d to %d characters", ErrInvalidInput, MinPasswordLen, MaxPasswordLen)
	}
	tag, err := a.Pool.Exec(ctx, `UPDATE users SET password_hash = $2, password_dev = $3 WHERE email = $1`,
		strings.ToLower(strings.TrimSpace(email)), HashPassword(password), dev)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownUser, email)
	}
	return nil
}

// SignIn checks an email and password for the browser UI and returns the user's identity. Failed
// attempts count against the same per-address limiter as bad API tokens, and per email; a locked
// address or email gets 429 before the password is even hashed. Every other failure is
// ErrBadCredentials as a 401 problem, whatever the cause.
func (a *API) SignIn(ctx context.Context, r *http.Request, email, password string) (*Identity, *Problem) {
	addr := clientAddr(r, a.cfg.ClientIPHeader)
	email = strings.ToLower(strings.TrimSpace(email))
	key := "password\x00" + email
	if p, _ := a.limits.check(addr, key); p != nil {
		a.log.Info().Str("client_addr", addr).Msg("sign-in refused: too many failed attempts")
		return nil, problem(http.StatusTooManyRequests, ProbTooManyFailures, "Too many failed attempts",
			"Too many failed sign-ins came from this address or for this email. Wait a minute and try again.")
	}
	fail := func(why string) (*Identity, *Problem) {
		a.limits.fail(addr, key)
		a.log.Info().Str("client_addr", addr).Str("why", why).Msg("sign-in refused")
		return nil, problem(http.StatusUnauthorized, ProbUnauthenticated, "Sign-in failed", ErrBadCredentials.Error()+".")
	}
	if len(email) > 320 || utf8.RuneCountInString(password) > MaxPasswordLen {
		return fail("input too long")
	}
	var userID string
	var hash *string
	var dev bool
	err := a.deps.Pool.QueryRow(ctx, `SELECT id::text, password_hash, password_dev FROM users WHERE email = $1`, email).
		Scan(&userID, &hash, &dev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		a.log.Error().Err(err).Msg("sign-in: read user")
		return nil, problem(http.StatusServiceUnavailable, ProbUnavailable, "Try again", "The identity store is unavailable.")
	}
	if hash == nil {
		checkPassword(dummyHash, password)
		return fail("unknown email or no password set")
	}
	if !checkPassword(*hash, password) {
		return fail("wrong password")
	}
	if dev && !a.cfg.DevMode {
		// Derived from a public seed: anyone can compute it.
		a.log.Warn().Str("user_id", userID).Msg("sign-in refused: a dev password (from 'strike dev') is accepted only by 'strike dev'")
		return fail("dev password outside dev mode")
	}
	id, err := IdentityOf(ctx, a.deps.Pool, userID)
	if err != nil || id == nil {
		a.log.Error().Err(err).Msg("sign-in: read identity")
		return nil, problem(http.StatusServiceUnavailable, ProbUnavailable, "Try again", "The identity store is unavailable.")
	}
	a.log.Info().Str("user_id", userID).Msg("signed in")
	return id, nil
}

// DevMode reports whether the API accepts dev credentials (Config.DevMode).
func (a *API) DevMode() bool { return a.cfg.DevMode }

// Now is the API's clock (Config.Now).
func (a *API) Now() time.Time { return a.cfg.Now() }
