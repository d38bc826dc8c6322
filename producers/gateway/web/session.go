package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sessions are server-side (table web_sessions, migration 00009): the cookie carries 256 random
// bits, the table only their SHA-256, so a database read does not yield live cookies, and
// signing out (or an admin deleting rows) ends a session at once.

// session is a signed-in browser.
type session struct {
	userID string
	csrf   string
}

// sessions stores browser sessions; it owns table web_sessions.
type sessions struct {
	pool     *pgxpool.Pool
	lifetime time.Duration
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// create starts a session for the user and returns the cookie value; the user's expired sessions
// go at the same time, so the table holds live sessions and the last few of each user.
func (s sessions) create(ctx context.Context, userID string) (string, error) {
	id := randomToken()
	_, err := s.pool.Exec(ctx, `WITH gone AS (DELETE FROM web_sessions WHERE user_id = $2 AND expires_at <= now())
		INSERT INTO web_sessions (id_sha256, user_id, csrf_token, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, hashID(id), userID, randomToken(), s.lifetime.Seconds())
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return id, nil
}

// get returns the live session of a cookie value, or nil.
func (s sessions) get(ctx context.Context, id string) (*session, error) {
	if id == "" || len(id) > 100 {
		return nil, nil
	}
	var out session
	var stale bool
	err := s.pool.QueryRow(ctx, `SELECT user_id::text, csrf_token, last_seen_at < now() - interval '1 minute' FROM web_sessions
		WHERE id_sha256 = $1 AND expires_at > now()`, hashID(id)).Scan(&out.userID, &out.csrf, &stale)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	if stale {
		// When the session was last used, at most one write a minute (for an admin looking at
		// who is signed in; nothing expires on it).
		if _, err := s.pool.Exec(ctx, `UPDATE web_sessions SET last_seen_at = now() WHERE id_sha256 = $1`, hashID(id)); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return &out, nil
}

// end deletes a session, and expired sessions of the same user with it.
func (s sessions) end(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE id_sha256 = $1
		OR (expires_at <= now() AND user_id = (SELECT user_id FROM web_sessions WHERE id_sha256 = $1))`, hashID(id))
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(sess *session, got string) bool {
	return sess != nil && got != "" && subtle.ConstantTimeCompare([]byte(sess.csrf), []byte(got)) == 1
}

// sameOrigin refuses a cross-site write even before the CSRF token is checked: a browser sends
// Origin on every POST, and it must name this host. Requests without Origin (old browsers, curl)
// still need the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
