// Package web is Strike's browser interface, served by the gateway from the binary: server-
// rendered html/template pages, a stylesheet and one small script (live updates over server-sent
// events), all embedded (docs/decisions.md says why this stack).
//
// Every tenant page acts through the gateway's *For methods, which make the /v1 API's access
// decision (gateway.Authorize) and run the API's own queries, so the browser and the API answer
// the same person the same way. The active tenant is in the URL (/nocs/{noc}/…, /osps/{osp}/…);
// "no access yet" and "forbidden" are pages of their own, and the forbidden page is the same
// whether the tenant exists or not.
package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/producers/gateway"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Config configures the UI. Zero values take the documented defaults.
type Config struct {
	// SessionLifetime is how long a sign-in lasts; default 12 h (a shift).
	SessionLifetime time.Duration
	// SecureCookies marks the session cookie Secure (HTTPS only). Only `strike dev` and tests on
	// plain http turn it off.
	SecureCookies bool
	// LiveInterval is how often an open board checks for projected changes; default 250 ms.
	LiveInterval time.Duration
	// RequestTimeout bounds each page's database work; default 10 s.
	RequestTimeout time.Duration
	// MaxStreamsPerUser bounds a user's open live pages (each polls the database); default 16.
	MaxStreamsPerUser int
}

// Deps are the UI's collaborators.
type Deps struct {
	API  *gateway.API
	Pool *pgxpool.Pool
	Log  zerolog.Logger
}

// UI serves the browser pages.
type UI struct {
	cfg      Config
	api      *gateway.API
	pool     *pgxpool.Pool
	log      zerolog.Logger
	sessions sessions
	pages    pages
	streams  *streamCounts
	stop     chan struct{} // closed by Close: live streams end
	stopOnce sync.Once
}

// New builds the UI.
func New(deps Deps, cfg Config) (*UI, error) {
	if deps.API == nil || deps.Pool == nil {
		return nil, errors.New("web: API and Pool are required")
	}
	cfg.SessionLifetime = cmp.Or(cfg.SessionLifetime, 12*time.Hour)
	cfg.LiveInterval = cmp.Or(cfg.LiveInterval, 250*time.Millisecond)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 10*time.Second)
	cfg.MaxStreamsPerUser = cmp.Or(cfg.MaxStreamsPerUser, 16)
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &UI{cfg: cfg, api: deps.API, pool: deps.Pool, log: deps.Log.With().Str(logging.FieldComponent, "web").Logger(),
		sessions: sessions{pool: deps.Pool, lifetime: cfg.SessionLifetime}, pages: p, stop: make(chan struct{}),
		streams: &streamCounts{max: cfg.MaxStreamsPerUser, n: map[string]int{}}}, nil
}

// Close ends the open live streams, so a server shutting down is not held up by boards left open
// (a stream's request context ends only when its client goes away).
func (u *UI) Close() { u.stopOnce.Do(func() { close(u.stop) }) }

// Paths lists the UI's routes, for docs and tests.
var Paths = []string{
	"GET /{$}",
	"GET /signin",
	"POST /signin",
	"POST /signout",
	"GET /tenants",
	"GET /nocs/{noc}/ecos",
	"GET /nocs/{noc}/ecos/live",
	"GET /nocs/{noc}/ecos/new",
	"POST /nocs/{noc}/ecos",
	"GET /nocs/{noc}/ecos/{eco}",
	"GET /nocs/{noc}/ecos/{eco}/live",
	"POST /nocs/{noc}/ecos/{eco}/cancel",
	"POST /nocs/{noc}/ecos/{eco}/controls",
	"GET /osps/{osp}/ecos",
	"GET /osps/{osp}/ecos/live",
	"GET /osps/{osp}/ecos/{eco}",
	"GET /osps/{osp}/ecos/{eco}/live",
	"POST /osps/{osp}/ecos/{eco}/controls",
	"GET /osps/{osp}/rosters",
	"GET /osps/{osp}/rosters/new",
	"GET /osps/{osp}/rosters/{region}",
	"POST /osps/{osp}/rosters/{region}",
	"GET /admin",
	"GET /admin/nocs/{noc}",
	"POST /admin/nocs/{noc}",
	"GET /admin/osps/{osp}",
	"POST /admin/osps/{osp}",
	"POST /admin/links/{noc}/{osp}",
	"GET /static/",
}

// Mount registers the pages on mux.
func (u *UI) Mount(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "static")
	h := map[string]http.Handler{
		"GET /{$}":                             u.page(u.landing),
		"GET /signin":                          http.HandlerFunc(u.signinForm),
		"POST /signin":                         http.HandlerFunc(u.signin),
		"POST /signout":                        u.page(u.signout),
		"GET /tenants":                         u.page(u.chooser),
		"GET /nocs/{noc}/ecos":                 u.page(u.board(gateway.KindNOC)),
		"GET /nocs/{noc}/ecos/live":            u.page(u.boardLive(gateway.KindNOC)),
		"GET /nocs/{noc}/ecos/new":             u.page(u.newECO),
		"POST /nocs/{noc}/ecos":                u.page(u.createECO),
		"GET /nocs/{noc}/ecos/{eco}":           u.page(u.eco(gateway.KindNOC)),
		"GET /nocs/{noc}/ecos/{eco}/live":      u.page(u.ecoLive(gateway.KindNOC)),
		"POST /nocs/{noc}/ecos/{eco}/cancel":   u.page(u.cancelECO),
		"POST /nocs/{noc}/ecos/{eco}/controls": u.page(u.controlECO(gateway.KindNOC)),
		"POST /osps/{osp}/ecos/{eco}/controls": u.page(u.controlECO(gateway.KindOSP)),
		"GET /osps/{osp}/ecos":                 u.page(u.board(gateway.KindOSP)),
		"GET /osps/{osp}/ecos/live":            u.page(u.boardLive(gateway.KindOSP)),
		"GET /osps/{osp}/ecos/{eco}":           u.page(u.eco(gateway.KindOSP)),
		"GET /osps/{osp}/ecos/{eco}/live":      u.page(u.ecoLive(gateway.KindOSP)),
		"GET /osps/{osp}/rosters":              u.page(u.rosters),
		"GET /osps/{osp}/rosters/new":          u.page(u.newRoster),
		"GET /osps/{osp}/rosters/{region}":     u.page(u.roster),
		"POST /osps/{osp}/rosters/{region}":    u.page(u.saveRoster),
		"GET /admin":                           u.page(u.admin),
		"GET /admin/nocs/{noc}":                u.page(u.adminNOC),
		"POST /admin/nocs/{noc}":               u.page(u.adminNOC),
		"GET /admin/osps/{osp}":                u.page(u.adminOSP),
		"POST /admin/osps/{osp}":               u.page(u.adminOSP),
		"POST /admin/links/{noc}/{osp}":        u.page(u.adminLink),
		"GET /static/":                         http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))),
	}
	for _, p := range Paths {
		mux.Handle(p, securityHeaders(h[p]))
	}
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// securityHeaders: no framing (clickjacking), no inline script (CSP), no referrer leaking
// tenant paths to other sites.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// req is what page handlers know about a request.
type req struct {
	id   *gateway.Identity
	sess *session
}

// pageFunc handles a signed-in request.
type pageFunc func(w http.ResponseWriter, r *http.Request, q *req)

const cookieName = "strike_session"

// maxFormBytes bounds a form post.
const maxFormBytes = 256 << 10

// page resolves the session; without one, a GET goes to the sign-in page (and back here after),
// anything else is refused. POSTs must carry the session's CSRF token and come from this origin.
func (u *UI) page(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live := strings.HasSuffix(r.URL.Path, "/live")
		ctx, cancel := context.WithTimeout(r.Context(), u.cfg.RequestTimeout)
		defer cancel()
		if live {
			// A live stream outlives a page's deadline; it checks its session as it goes.
			ctx, cancel = context.WithCancel(r.Context())
			defer cancel()
		}
		r = r.WithContext(ctx)
		w.Header().Set("Cache-Control", "no-store")
		q, err := u.identify(ctx, r)
		if err != nil {
			u.log.Error().Err(err).Msg("read session")
			u.errorPage(w, r, &req{}, http.StatusServiceUnavailable, "Try again", "The identity store is unavailable.")
			return
		}
		if q.id == nil {
			if r.Method == http.MethodGet && !live {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.errorPage(w, r, &req{}, http.StatusUnauthorized, "Signed out", "Your session has ended. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			// Forms are small (a roster of 200 people is well under this); ParseForm would
			// otherwise read up to 10 MB.
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			// Parsed once: a second ParseForm returns nil whatever the first found.
			err := r.ParseForm()
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				u.errorPage(w, r, q, http.StatusRequestEntityTooLarge, "Form too large", "This form carries more than Strike accepts.")
				return
			}
			if err != nil || !sameOrigin(r) || !validCSRF(q.sess, r.PostForm.Get("csrf")) {
				u.log.Info().Str("user_id", q.id.UserID).Str("path", r.URL.Path).Msg("web write refused: CSRF check failed")
				u.errorPage(w, r, q, http.StatusForbidden, "Request refused",
					"This form is out of date or came from another site. Go back, reload the page and try again.")
				return
			}
		}
		h(w, r, q)
	})
}

// identify resolves the request's session cookie to its session and the user's identity; a
// request without a live session gets a req with no identity. Pages and live streams (which
// re-check as they go) both use it.
func (u *UI) identify(ctx context.Context, r *http.Request) (*req, error) {
	c, err := r.Cookie(u.cookie())
	if err != nil {
		return &req{}, nil
	}
	sess, err := u.sessions.get(ctx, c.Value)
	if err != nil || sess == nil {
		return &req{}, err
	}
	id, err := gateway.IdentityOf(ctx, u.pool, sess.userID)
	if err != nil || id == nil {
		return &req{}, err
	}
	return &req{id: id, sess: sess}, nil
}

// cookie is the session cookie's name: with the __Host- prefix when Secure, so a sibling
// subdomain cannot set it.
func (u *UI) cookie() string {
	if u.cfg.SecureCookies {
		return "__Host-" + cookieName
	}
	return cookieName
}

func (u *UI) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: u.cookie(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: u.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// safeNext keeps a post-sign-in redirect on this site: a path, never "//host" or a scheme.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 500 {
		return "/"
	}
	return next
}

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusOK, "signin", &req{}, map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "DevMode": u.api.DevMode()})
}

func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), u.cfg.RequestTimeout)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !sameOrigin(r) {
		u.errorPage(w, r, &req{}, http.StatusForbidden, "Request refused", "The sign-in form must be sent from this site.")
		return
	}
	email, next := r.PostForm.Get("email"), safeNext(r.PostForm.Get("next"))
	id, p := u.api.SignIn(ctx, r, email, r.PostForm.Get("password"))
	if p != nil {
		u.render(w, r, p.Status, "signin", &req{}, map[string]any{"Next": next, "Email": email, "Error": p.Detail, "DevMode": u.api.DevMode()})
		return
	}
	// A fresh session id at every sign-in: a cookie planted before sign-in is never promoted.
	if c, err := r.Cookie(u.cookie()); err == nil {
		_ = u.sessions.end(ctx, c.Value)
	}
	sid, err := u.sessions.create(ctx, id.UserID)
	if err != nil {
		u.log.Error().Err(err).Msg("create session")
		u.errorPage(w, r, &req{}, http.StatusServiceUnavailable, "Try again", "Could not start a session.")
		return
	}
	u.setCookie(w, sid, int(u.cfg.SessionLifetime.Seconds()))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) signout(w http.ResponseWriter, r *http.Request, q *req) {
	if c, err := r.Cookie(u.cookie()); err == nil {
		if err := u.sessions.end(r.Context(), c.Value); err != nil {
			u.log.Error().Err(err).Msg("end session")
		}
	}
	u.setCookie(w, "", -1)
	u.log.Info().Str("user_id", q.id.UserID).Msg("signed out")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// landing follows /v1/me: one tenant → its board; several → the chooser; none → "no access
// yet", or the admin area for a system admin.
func (u *UI) landing(w http.ResponseWriter, r *http.Request, q *req) {
	ms := q.id.Memberships
	switch {
	case len(ms) == 1:
		http.Redirect(w, r, boardURL(ms[0].Kind, ms[0].TenantID), http.StatusSeeOther)
	case len(ms) > 1:
		http.Redirect(w, r, "/tenants", http.StatusSeeOther)
	case q.id.SystemAdmin:
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	default:
		u.render(w, r, http.StatusOK, "noaccess", q, nil)
	}
}

// chooser lists the user's tenants; it is also where the switcher's "all tenants" leads.
func (u *UI) chooser(w http.ResponseWriter, r *http.Request, q *req) {
	if len(q.id.Memberships) == 0 && !q.id.SystemAdmin {
		u.render(w, r, http.StatusOK, "noaccess", q, nil)
		return
	}
	u.render(w, r, http.StatusOK, "chooser", q, nil)
}

func boardURL(kind, tenant string) string {
	return "/" + kind + "s/" + url.PathEscape(tenant) + "/ecos"
}

// refused renders the page for a gateway problem: the no-access page, the forbidden page (the
// same bytes whether the tenant exists or not: it names nothing from the database), or an error.
func (u *UI) refused(w http.ResponseWriter, r *http.Request, q *req, p *gateway.Problem) {
	if p.Status == http.StatusForbidden || p.Status == http.StatusUnauthorized {
		// Denials are logged, as the API logs them: who, where, why; never a cookie.
		ev := u.log.Info().Str("path", r.URL.Path).Str("problem", p.Slug())
		if q.id != nil {
			ev = ev.Str("user_id", q.id.UserID)
		}
		ev.Msg("web request denied")
	}
	switch p.Slug() {
	case gateway.ProbNoMemberships:
		u.render(w, r, http.StatusForbidden, "noaccess", q, nil)
	case gateway.ProbForbiddenTenant, gateway.ProbNotSystemAdmin:
		u.render(w, r, http.StatusForbidden, "forbidden", q, nil)
	default:
		u.errorPage(w, r, q, p.Status, p.Title, p.Detail)
	}
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, q *req, status int, title, detail string) {
	u.render(w, r, status, "error", q, map[string]any{"Title": title, "Detail": detail})
}
