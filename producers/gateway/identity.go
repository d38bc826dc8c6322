package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/projection"
)

// TokenPrefix starts every API token, so a leaked token is recognisable by secret scanners.
const TokenPrefix = "stk_"

// Tenant kinds, as in URLs and memberships.
const (
	KindNOC = projection.KindNOC
	KindOSP = projection.KindOSP
)

// Membership roles. NOC admins and operators may create and cancel ECOs; every role may read.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleAgent    = "agent"
	RoleViewer   = "viewer"
)

// ErrUnknownUser is returned for a user email with no account.
var ErrUnknownUser = errors.New("unknown user")

// ErrInvalidInput wraps validation failures of the identity functions.
var ErrInvalidInput = errors.New("invalid input")

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)

// Identity is who a request comes from.
type Identity struct {
	UserID      string       `json:"id"`
	Email       string       `json:"email"`
	DisplayName string       `json:"display_name"`
	SystemAdmin bool         `json:"system_admin"`
	Memberships []Membership `json:"memberships"`
}

// Membership is one tenant a user may act in.
type Membership struct {
	Kind       string `json:"kind"`
	TenantID   string `json:"tenant_id"`
	TenantName string `json:"tenant_name"`
	Role       string `json:"role"`
}

// member returns the user's role in the tenant, if any.
func (id *Identity) member(kind, tenant string) (string, bool) {
	for _, m := range id.Memberships {
		if m.Kind == kind && m.TenantID == tenant {
			return m.Role, true
		}
	}
	return "", false
}

// HashToken is the stored form of a token: SHA-256. Tokens carry 256 random bits, so a plain
// hash (no salt, no KDF) is enough and lets lookups use an index.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns a fresh random token.
func NewToken() string {
	for {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
		if t := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]); !IsDevToken(t) {
			return t
		}
	}
}

// DevTokenPrefix starts every dev token (DevToken). A gateway outside `strike dev` refuses
// tokens with this prefix (Config.DevMode).
const DevTokenPrefix = TokenPrefix + "dev_"

// DevToken derives a token from a dev-only seed and an email: `strike dev` prints the same
// tokens at every start. Never use it outside dev: anyone who knows the seed knows the tokens.
func DevToken(seed, email string) string {
	h := sha256.Sum256([]byte("strike-dev-token\x00" + seed + "\x00" + email))
	return DevTokenPrefix + base64.RawURLEncoding.EncodeToString(h[:24])
}

// IsDevToken reports whether token has the form of a dev token. Random tokens (NewToken) never
// do: NewToken draws again in the (1 in 64^4) case its base64 starts with "dev_".
func IsDevToken(token string) bool { return strings.HasPrefix(token, DevTokenPrefix) }

// Accounts manages users, memberships and tokens (the `strike admin` commands, `strike dev`).
type Accounts struct {
	Pool *pgxpool.Pool
}

// EnsureUser creates the user if missing and sets the system-admin flag and display name when
// given; it returns the user id and whether the user was created.
func (a Accounts) EnsureUser(ctx context.Context, email, name string, systemAdmin bool) (string, bool, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !emailPattern.MatchString(email) {
		return "", false, fmt.Errorf("%w: email %q", ErrInvalidInput, email)
	}
	var role any
	if systemAdmin {
		role = "admin"
	}
	var id string
	var created bool
	err := a.Pool.QueryRow(ctx, `INSERT INTO users (email, display_name, system_role) VALUES ($1, $2, $3)
		ON CONFLICT (email) DO UPDATE SET
			display_name = CASE WHEN excluded.display_name = '' THEN users.display_name ELSE excluded.display_name END,
			system_role = coalesce(excluded.system_role, users.system_role)
		RETURNING id::text, (xmax = 0)`, email, name, role).Scan(&id, &created)
	if err != nil {
		return "", false, fmt.Errorf("save user %s: %w", email, err)
	}
	return id, created, nil
}

// AddMembership gives a user a role in a tenant (replacing an existing role there).
func (a Accounts) AddMembership(ctx context.Context, email, kind, tenant, role string) error {
	switch kind {
	case KindNOC, KindOSP:
	default:
		return fmt.Errorf("%w: tenant kind %q: want noc or osp", ErrInvalidInput, kind)
	}
	switch role {
	case RoleAdmin, RoleOperator, RoleAgent, RoleViewer:
	default:
		return fmt.Errorf("%w: role %q: want admin, operator, agent or viewer", ErrInvalidInput, role)
	}
	var noc, osp any
	if kind == KindNOC {
		noc = tenant
	} else {
		osp = tenant
	}
	tag, err := a.Pool.Exec(ctx, `INSERT INTO memberships (user_id, tenant_kind, noc_tenant_id, osp_tenant_id, role)
		SELECT id, $2, $3, $4, $5 FROM users WHERE email = $1
		ON CONFLICT (user_id, tenant_kind, coalesce(noc_tenant_id, osp_tenant_id)) DO UPDATE SET role = excluded.role`,
		strings.ToLower(email), kind, noc, osp, role)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: no %s tenant %q", ErrInvalidInput, kind, tenant)
	}
	if err != nil {
		return fmt.Errorf("add membership: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownUser, email)
	}
	return nil
}

// CreateToken issues a new random token for the user that expires after DefaultTokenTTL and
// stores only its hash. The token is returned once; it cannot be read back. IssueToken takes
// another lifetime.
func (a Accounts) CreateToken(ctx context.Context, email, label string) (string, error) {
	token, _, err := a.IssueToken(ctx, email, label, DefaultTokenTTL)
	return token, err
}

// StoreToken stores the hash of a given token for the user (dev tokens); storing the same
// token again is a no-op.
func (a Accounts) StoreToken(ctx context.Context, email, token, label string) error {
	tag, err := a.Pool.Exec(ctx, `INSERT INTO api_tokens (user_id, token_sha256, label)
		SELECT id, $2, $3 FROM users WHERE email = $1
		ON CONFLICT (token_sha256) DO NOTHING`, strings.ToLower(email), HashToken(token), label)
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := a.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, strings.ToLower(email)).Scan(&exists); err != nil {
			return fmt.Errorf("store token: %w", err)
		}
		if !exists {
			return fmt.Errorf("%w: %s", ErrUnknownUser, email)
		}
	}
	return nil
}

// lookup resolves a token to its identity; a nil identity means no valid token.
func lookup(ctx context.Context, pool *pgxpool.Pool, token string) (*Identity, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return nil, nil
	}
	var id Identity
	var role *string
	err := pool.QueryRow(ctx, `SELECT u.id::text, u.email, u.display_name, u.system_role
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
		HashToken(token)).Scan(&id.UserID, &id.Email, &id.DisplayName, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	id.SystemAdmin = role != nil && *role == "admin"
	if err := loadMemberships(ctx, pool, &id); err != nil {
		return nil, err
	}
	return &id, nil
}

// loadMemberships fills id.Memberships from the database.
func loadMemberships(ctx context.Context, pool *pgxpool.Pool, id *Identity) error {
	rows, err := pool.Query(ctx, `SELECT m.tenant_kind, coalesce(m.noc_tenant_id, m.osp_tenant_id),
			coalesce(n.name, o.name, ''), m.role
		FROM memberships m
		LEFT JOIN noc_tenants n ON n.id = m.noc_tenant_id
		LEFT JOIN osp_tenants o ON o.id = m.osp_tenant_id
		WHERE m.user_id = $1 ORDER BY m.tenant_kind, 2`, id.UserID)
	if err != nil {
		return fmt.Errorf("read memberships: %w", err)
	}
	id.Memberships, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		err := r.Scan(&m.Kind, &m.TenantID, &m.TenantName, &m.Role)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("read memberships: %w", err)
	}
	if id.Memberships == nil {
		id.Memberships = []Membership{}
	}
	return nil
}

// IdentityOf loads a user's identity by id (a browser session's user); nil if there is no such
// user.
func IdentityOf(ctx context.Context, pool *pgxpool.Pool, userID string) (*Identity, error) {
	if !uuidPattern.MatchString(userID) {
		return nil, nil
	}
	id := Identity{UserID: userID}
	var role *string
	err := pool.QueryRow(ctx, `SELECT email, display_name, system_role FROM users WHERE id = $1`, userID).
		Scan(&id.Email, &id.DisplayName, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	id.SystemAdmin = role != nil && *role == "admin"
	if err := loadMemberships(ctx, pool, &id); err != nil {
		return nil, err
	}
	return &id, nil
}

// RevokeTokens revokes every active token of the user at once and returns how many.
func (a Accounts) RevokeTokens(ctx context.Context, email string) (int64, error) {
	tag, err := a.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now()
		WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE email = $1)`, strings.ToLower(email))
	if err != nil {
		return 0, fmt.Errorf("revoke tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RemoveMembership takes a user's access to a tenant away; removing a membership that does not
// exist is not an error.
func (a Accounts) RemoveMembership(ctx context.Context, email, kind, tenant string) error {
	_, err := a.Pool.Exec(ctx, `DELETE FROM memberships WHERE tenant_kind = $2
		AND coalesce(noc_tenant_id, osp_tenant_id) = $3 AND user_id = (SELECT id FROM users WHERE email = $1)`,
		strings.ToLower(email), kind, tenant)
	if err != nil {
		return fmt.Errorf("remove membership: %w", err)
	}
	return nil
}
