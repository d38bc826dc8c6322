package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/osprey-strike/strike/producers/gateway"
)

// Live pages (docs/decisions.md, "live board"): an open board or ECO page holds a server-sent
// events stream. Every LiveInterval the stream re-reads what the page shows through the same
// tenant-scoped read as the page itself (gateway ListFor/GetFor, so row-level security and the
// access rules apply on every read), renders it, and sends the HTML only when it changed. The
// sink needs to know nothing about the UI, and the reads are the board's first page, which the
// (tenant, created_at) indexes serve in about a millisecond even at 100,000 ECOs.

// sessionRecheck is how often a stream re-reads its session and memberships, so signing out or
// losing a membership ends the stream.
const sessionRecheck = 5 * time.Second

// heartbeat keeps proxies from closing an idle stream.
const heartbeat = 15 * time.Second

// streamCounts bounds the open streams per user: each polls the database, so one user's many
// tabs (or a script) cannot turn into unbounded load.
type streamCounts struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

func (s *streamCounts) acquire(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[user] >= s.max {
		return false
	}
	s.n[user]++
	return true
}

func (s *streamCounts) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[user]--; s.n[user] <= 0 {
		delete(s.n, user)
	}
}

type renderFunc func(r *http.Request, q *req) (string, *gateway.Problem)

// live is the stream of a page's live fragment: data is the page's own read, fragment the
// template in page that renders it. The active tenant is derived again from the identity the
// stream last read, so a changed role shows (the ECO page's controls).
func live[T any](u *UI, kind, page, fragment string, data func(r *http.Request, q *req, a *active) (T, *gateway.Problem)) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, q *req) {
		if _, ok := u.authorize(w, r, q, kind, gateway.ActRead); !ok {
			return
		}
		tenant := r.PathValue(kind)
		u.stream(w, r, q, func(r *http.Request, q *req) (string, *gateway.Problem) {
			role, p := gateway.Authorize(q.id, kind, tenant, gateway.ActRead)
			if p != nil {
				return "", p
			}
			a := u.activeFor(q, kind, tenant, role)
			d, p := data(r, q, a)
			if p != nil {
				return "", p
			}
			return u.fragment(page, fragment, q, a, d)
		})
	}
}

func (u *UI) boardLive(kind string) pageFunc { return live(u, kind, "board", "rows", u.boardData) }

func (u *UI) ecoLive(kind string) pageFunc { return live(u, kind, "eco", "ecolive", u.ecoData) }

func (u *UI) fragment(page, name string, q *req, a *active, data any) (string, *gateway.Problem) {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, name, u.view(q, a, page, data)); err != nil {
		u.log.Error().Err(err).Str("fragment", name).Msg("render live fragment")
		return "", &gateway.Problem{Status: http.StatusInternalServerError, Title: "Internal error"}
	}
	return buf.String(), nil
}

// stream sends render's output as an "update" event whenever it changes, until the client goes
// away, the session ends or access is lost.
func (u *UI) stream(w http.ResponseWriter, r *http.Request, q *req, render renderFunc) {
	if !u.streams.acquire(q.id.UserID) {
		u.log.Info().Str("user_id", q.id.UserID).Msg("live stream refused: too many open")
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live pages open; close some tabs", http.StatusTooManyRequests)
		return
	}
	defer u.streams.release(q.id.UserID)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 1000\n\n") {
		return
	}
	ctx := r.Context()
	var last [32]byte
	tick := time.NewTicker(u.cfg.LiveInterval)
	defer tick.Stop()
	lastCheck, lastSent := time.Now(), time.Now()
	for {
		if time.Since(lastCheck) >= sessionRecheck {
			lastCheck = time.Now()
			cur, err := u.identify(ctx, r)
			if err != nil || cur.id == nil {
				return
			}
			q = cur
		}
		// Each read has the page's deadline: a stuck database ends the stream, not the server.
		pctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
		html, p := render(r.WithContext(pctx), q)
		cancel()
		if p != nil {
			// Access lost or the ECO is gone: end the stream; a reload shows why.
			send("event: end\ndata: " + p.Title + "\n\n")
			return
		}
		if h := sha256.Sum256([]byte(html)); h != last {
			last = h
			if !send("event: update\ndata: " + strings.ReplaceAll(html, "\n", "\ndata: ") + "\n\n") {
				return
			}
			lastSent = time.Now()
		} else if time.Since(lastSent) >= heartbeat {
			if !send(": keep-alive\n\n") {
				return
			}
			lastSent = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-u.stop:
			return
		case <-tick.C:
		}
	}
}
