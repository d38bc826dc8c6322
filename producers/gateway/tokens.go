package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// DefaultTokenTTL is how long a token lives unless its issuer says otherwise (Config.TokenTTL,
// `strike admin token create --expires-in-days`).
const DefaultTokenTTL = 90 * 24 * time.Hour

// DefaultTokenMaxTTL bounds the lifetime a caller may ask for (Config.TokenMaxTTL).
const DefaultTokenMaxTTL = 365 * 24 * time.Hour

// ErrNoSuchToken is returned for a token id that is not an active token of the user.
var ErrNoSuchToken = errors.New("no such token")

// TokenInfo describes one API token: never its secret, which exists only once, at creation.
type TokenInfo struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// IssueToken issues a new random token for the user (by email) that expires after ttl, stores
// only its hash, and returns the token (shown once) and its description.
func (a Accounts) IssueToken(ctx context.Context, email, name string, ttl time.Duration) (string, TokenInfo, error) {
	if ttl <= 0 {
		return "", TokenInfo{}, fmt.Errorf("%w: token lifetime %s: want a positive duration", ErrInvalidInput, ttl)
	}
	userID, err := a.userID(ctx, email)
	if err != nil {
		return "", TokenInfo{}, err
	}
	return a.issueFor(ctx, userID, name, ttl)
}

// issueFor issues a token for a user id.
func (a Accounts) issueFor(ctx context.Context, userID, name string, ttl time.Duration) (string, TokenInfo, error) {
	token := NewToken()
	var t TokenInfo
	err := a.Pool.QueryRow(ctx, `INSERT INTO api_tokens (user_id, token_sha256, label, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))
		RETURNING id::text, label, created_at, expires_at, last_used_at`,
		userID, HashToken(token), name, ttl.Seconds()).Scan(&t.ID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("issue token: %w", err)
	}
	return token, t, nil
}

// ListTokens lists the user's (by email) active tokens: not revoked, not expired; newest first.
func (a Accounts) ListTokens(ctx context.Context, email string) ([]TokenInfo, error) {
	userID, err := a.userID(ctx, email)
	if err != nil {
		return nil, err
	}
	return a.listFor(ctx, userID)
}

func (a Accounts) listFor(ctx context.Context, userID string) ([]TokenInfo, error) {
	rows, err := a.Pool.Query(ctx, `SELECT id::text, label, created_at, expires_at, last_used_at FROM api_tokens
		WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
		ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TokenInfo, error) {
		var t TokenInfo
		err := r.Scan(&t.ID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	if out == nil {
		out = []TokenInfo{}
	}
	return out, nil
}

// RevokeToken revokes one active token of the user (by email); ErrNoSuchToken if the id is not
// one, including another user's token.
func (a Accounts) RevokeToken(ctx context.Context, email, tokenID string) error {
	userID, err := a.userID(ctx, email)
	if err != nil {
		return err
	}
	return a.revokeFor(ctx, userID, tokenID)
}

func (a Accounts) revokeFor(ctx context.Context, userID, tokenID string) error {
	if !uuidPattern.MatchString(tokenID) {
		return ErrNoSuchToken
	}
	tag, err := a.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now()
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, tokenID, userID)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoSuchToken
	}
	return nil
}

// userID resolves a user by email, or by id when ref is a UUID.
func (a Accounts) userID(ctx context.Context, ref string) (string, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	var id string
	var err error
	if uuidPattern.MatchString(ref) {
		err = a.Pool.QueryRow(ctx, `SELECT id::text FROM users WHERE id = $1`, ref).Scan(&id)
	} else {
		err = a.Pool.QueryRow(ctx, `SELECT id::text FROM users WHERE email = $1`, ref).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrUnknownUser, ref)
	}
	if err != nil {
		return "", fmt.Errorf("find user: %w", err)
	}
	return id, nil
}

// TokenBody creates a token: a name saying what it is for, and optionally its lifetime in days
// (default Config.TokenTTL, at most Config.TokenMaxTTL).
type TokenBody struct {
	Name          string `json:"name"`
	ExpiresInDays *int   `json:"expires_in_days,omitempty"`
}

// createdToken is the one answer that carries a token's secret.
type createdToken struct {
	TokenInfo
	Token string `json:"token"`
}

type tokenListResponse struct {
	Items []TokenInfo `json:"items"`
}

var (
	errTokenNotFound = problem(http.StatusNotFound, ProbNotFound, "No such token",
		"There is no active token with that id among this user's tokens.")
	errUserNotFound = problem(http.StatusNotFound, ProbNotFound, "No such user",
		"There is no user with that id or email.")
)

func (a *API) accounts() Accounts { return Accounts{Pool: a.deps.Pool} }

// targetUser is the user a token route acts on: the caller on /v1/me routes, the {user} path
// value (an email or a user id) on admin routes.
func (a *API) targetUser(r *http.Request, c *reqCtx) (string, *Problem) {
	ref := r.PathValue("user")
	if ref == "" {
		c.target = c.id.UserID
		return c.id.UserID, nil
	}
	id, err := a.accounts().userID(r.Context(), ref)
	if errors.Is(err, ErrUnknownUser) {
		return "", errUserNotFound
	}
	if err != nil {
		a.log.Error().Err(err).Msg("find user")
		return "", errInternal
	}
	c.target = id
	return id, nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	userID, p := a.targetUser(r, c)
	if p != nil {
		return p
	}
	items, err := a.accounts().listFor(r.Context(), userID)
	if err != nil {
		a.log.Error().Err(err).Msg("list tokens")
		return errInternal
	}
	writeJSON(w, http.StatusOK, tokenListResponse{Items: items})
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	userID, p := a.targetUser(r, c)
	if p != nil {
		return p
	}
	var b TokenBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	var errs []FieldError
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" || utf8.RuneCountInString(b.Name) > 100 {
		errs = append(errs, FieldError{"name", "1 to 100 characters saying what the token is for"})
	}
	ttl := a.cfg.TokenTTL
	maxDays := int(a.cfg.TokenMaxTTL / (24 * time.Hour))
	if b.ExpiresInDays != nil {
		if d := *b.ExpiresInDays; d < 1 || d > maxDays {
			errs = append(errs, FieldError{"expires_in_days", "want 1.." + strconv.Itoa(maxDays)})
		} else {
			ttl = time.Duration(d) * 24 * time.Hour
		}
	}
	if len(errs) > 0 {
		return problem(http.StatusBadRequest, ProbValidation, "Invalid token request", "", errs...)
	}
	token, info, err := a.accounts().issueFor(r.Context(), userID, b.Name, ttl)
	if err != nil {
		a.log.Error().Err(err).Msg("issue token")
		return errInternal
	}
	c.tokenID = info.ID
	writeJSON(w, http.StatusCreated, createdToken{TokenInfo: info, Token: token})
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	userID, p := a.targetUser(r, c)
	if p != nil {
		return p
	}
	// Another user's token and a token that does not exist get the same answer.
	err := a.accounts().revokeFor(r.Context(), userID, r.PathValue("token"))
	if errors.Is(err, ErrNoSuchToken) {
		return errTokenNotFound
	}
	if err != nil {
		a.log.Error().Err(err).Msg("revoke token")
		return errInternal
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// touchToken records that the token was used, at most once a minute per token.
func (a *API) touchToken(ctx context.Context, token string) {
	_, err := a.deps.Pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_sha256 = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, HashToken(token))
	if err != nil {
		a.log.Warn().Err(err).Msg("record token use")
	}
}
