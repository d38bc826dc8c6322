// Package gateway is Strike's HTTP face for people and tools: the tenant-scoped read API over
// the sink's projections, HTTP intake of ECO requests and cancels (produced to
// strike.eco.requests.v1 keyed by OSP), and system-admin routes for tenants, links, rosters and
// policies. Handlers mount on a *http.ServeMux (the process's ops server in `strike dev` and
// `strike run gateway`).
//
// Access is decided per request, in this order, with distinct answers (DESIGN §1):
//  1. no valid bearer token: 401 unauthenticated;
//  2. a tenant route, and the user is a member of that tenant: allowed with that role;
//  3. the user is a system admin: allowed, by an explicit check;
//  4. the user has no memberships at all: 403 no-memberships;
//  5. otherwise 403 forbidden-tenant, whether the tenant exists or not (no existence oracle).
//
// PostgreSQL row-level security is the second layer: projections are read as strike_api_noc or strike_api_osp with
// the active tenant set per transaction (TenantTx).
package gateway

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name in logs, metrics and ce_source.
const Name = "gateway"

// Producer sends records to Kafka and waits for them to be acknowledged; *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Config configures the API. Zero values take the documented defaults.
type Config struct {
	// MaxBodyBytes bounds request bodies; default 64 KiB.
	MaxBodyBytes int64
	// DefaultPageSize and MaxPageSize bound ECO list pages; defaults 50 and 200.
	DefaultPageSize, MaxPageSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RequestTimeout is the deadline of each request's work (database, Kafka); default 10 s,
	// under the HTTP server's write timeout.
	RequestTimeout time.Duration
	// AuthFailureBurst failed authentications are allowed per client address and per token
	// before 429; one more is allowed every AuthFailureRefill. Defaults 10 and 6 s.
	AuthFailureBurst  int
	AuthFailureRefill time.Duration
	// AuthLimiterKeys bounds how many addresses and tokens each failure limiter tracks;
	// default 10000.
	AuthLimiterKeys int
	// ClientIPHeader names a header set by a trusted proxy (X-Forwarded-For, X-Real-IP) whose
	// rightmost address is the client's; empty: the connection's peer address.
	ClientIPHeader string
	// TokenTTL is the lifetime of a token created over HTTP without expires_in_days; default
	// DefaultTokenTTL (90 days). TokenMaxTTL bounds expires_in_days; default DefaultTokenMaxTTL
	// (365 days), and at least TokenTTL.
	TokenTTL, TokenMaxTTL time.Duration
	// DevMode accepts dev tokens (DevToken, derived from a public seed). Only `strike dev` sets
	// it; otherwise a dev token is refused like an unknown one (401), with a log line saying why.
	DevMode bool
}

// Deps are the API's collaborators.
type Deps struct {
	Pool      *pgxpool.Pool
	Validator *schemas.Validator
	Producer  Producer // for intake and cancels
	Log       zerolog.Logger
	Registry  prometheus.Registerer // may be nil
}

// API serves the /v1 routes.
type API struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	tenancy tenancy.Store
	metrics *metrics
	limits  authLimits
}

// New validates cfg and builds the API.
func New(deps Deps, cfg Config) (*API, error) {
	if deps.Pool == nil || deps.Validator == nil || deps.Producer == nil {
		return nil, errors.New("gateway: Pool, Validator and Producer are required")
	}
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 64<<10)
	cfg.DefaultPageSize = cmp.Or(cfg.DefaultPageSize, 50)
	cfg.MaxPageSize = cmp.Or(cfg.MaxPageSize, 200)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 10*time.Second)
	cfg.AuthFailureBurst = cmp.Or(cfg.AuthFailureBurst, 10)
	cfg.AuthFailureRefill = cmp.Or(cfg.AuthFailureRefill, 6*time.Second)
	cfg.AuthLimiterKeys = cmp.Or(cfg.AuthLimiterKeys, 10000)
	cfg.TokenTTL = cmp.Or(cfg.TokenTTL, DefaultTokenTTL)
	cfg.TokenMaxTTL = cmp.Or(cfg.TokenMaxTTL, DefaultTokenMaxTTL)
	if cfg.MaxBodyBytes < 0 || cfg.DefaultPageSize < 1 || cfg.MaxPageSize < cfg.DefaultPageSize {
		return nil, errors.New("gateway: MaxBodyBytes must be positive and 1 <= DefaultPageSize <= MaxPageSize")
	}
	if cfg.RequestTimeout < 0 || cfg.AuthFailureBurst < 1 || cfg.AuthFailureRefill <= 0 || cfg.AuthLimiterKeys < 1 {
		return nil, errors.New("gateway: RequestTimeout, AuthFailureBurst, AuthFailureRefill and AuthLimiterKeys must be positive")
	}
	if cfg.TokenTTL < time.Minute || cfg.TokenMaxTTL < cfg.TokenTTL {
		return nil, errors.New("gateway: TokenTTL must be at least a minute and at most TokenMaxTTL (default 365 days)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{cfg: cfg, deps: deps, log: deps.Log.With().Str(logging.FieldComponent, Name).Logger(),
		tenancy: tenancy.Store{Pool: deps.Pool}, metrics: newMetrics(deps.Registry),
		limits: authLimits{
			byAddr:  newFailureLimiter(cfg.AuthFailureBurst, cfg.AuthFailureRefill, cfg.AuthLimiterKeys, cfg.Now),
			byToken: newFailureLimiter(cfg.AuthFailureBurst, cfg.AuthFailureRefill, cfg.AuthLimiterKeys, cfg.Now),
		}}, nil
}

// Routes lists every route, for docs and the cross-tenant matrix test.
var Routes = []string{
	"GET /v1/me",
	"GET /v1/nocs/{noc}/ecos",
	"POST /v1/nocs/{noc}/ecos",
	"GET /v1/nocs/{noc}/ecos/{eco}",
	"POST /v1/nocs/{noc}/ecos/{eco}/cancel",
	"GET /v1/osps/{osp}/ecos",
	"GET /v1/osps/{osp}/ecos/{eco}",
	"GET /v1/osps/{osp}/rosters",
	"GET /v1/osps/{osp}/rosters/{region}",
	"PUT /v1/osps/{osp}/rosters/{region}",
	"DELETE /v1/osps/{osp}/rosters/{region}",
	"POST /v1/nocs/{noc}/ecos/{eco}/controls",
	"POST /v1/osps/{osp}/ecos/{eco}/controls",
	"GET /v1/admin/tenants",
	"PUT /v1/admin/nocs/{noc}",
	"PUT /v1/admin/osps/{osp}",
	"PUT /v1/admin/links/{noc}/{osp}",
	"PUT /v1/admin/osps/{osp}/rosters/{region}",
	"PUT /v1/admin/nocs/{noc}/policy",
	"GET /v1/me/tokens",
	"POST /v1/me/tokens",
	"DELETE /v1/me/tokens/{token}",
	"GET /v1/admin/users/{user}/tokens",
	"POST /v1/admin/users/{user}/tokens",
	"DELETE /v1/admin/users/{user}/tokens/{token}",
}

// Mount registers the /v1 routes on mux.
func (a *API) Mount(mux *http.ServeMux) {
	h := map[string]handlerFunc{
		"GET /v1/me":                                   a.me,
		"GET /v1/nocs/{noc}/ecos":                      a.tenant(KindNOC, actRead, a.listECOs),
		"POST /v1/nocs/{noc}/ecos":                     a.tenant(KindNOC, actWrite, a.createECO),
		"GET /v1/nocs/{noc}/ecos/{eco}":                a.tenant(KindNOC, actRead, a.getECO),
		"POST /v1/nocs/{noc}/ecos/{eco}/cancel":        a.tenant(KindNOC, actWrite, a.cancelECO),
		"GET /v1/osps/{osp}/ecos":                      a.tenant(KindOSP, actRead, a.listECOs),
		"GET /v1/osps/{osp}/ecos/{eco}":                a.tenant(KindOSP, actRead, a.getECO),
		"GET /v1/osps/{osp}/rosters":                   a.tenant(KindOSP, actRead, a.listRosters),
		"GET /v1/osps/{osp}/rosters/{region}":          a.tenant(KindOSP, actRead, a.getRoster),
		"PUT /v1/osps/{osp}/rosters/{region}":          a.tenant(KindOSP, actManageRoster, a.putRoster),
		"DELETE /v1/osps/{osp}/rosters/{region}":       a.tenant(KindOSP, actManageRoster, a.deleteRoster),
		"POST /v1/nocs/{noc}/ecos/{eco}/controls":      a.tenant(KindNOC, actControl, a.controlECO),
		"POST /v1/osps/{osp}/ecos/{eco}/controls":      a.tenant(KindOSP, actControl, a.controlECO),
		"GET /v1/admin/tenants":                        a.admin(a.adminTenants),
		"PUT /v1/admin/nocs/{noc}":                     a.admin(a.adminPutNOC),
		"PUT /v1/admin/osps/{osp}":                     a.admin(a.adminPutOSP),
		"PUT /v1/admin/links/{noc}/{osp}":              a.admin(a.adminPutLink),
		"PUT /v1/admin/osps/{osp}/rosters/{region}":    a.admin(a.adminPutRoster),
		"PUT /v1/admin/nocs/{noc}/policy":              a.admin(a.adminPutPolicy),
		"GET /v1/me/tokens":                            a.listTokens,
		"POST /v1/me/tokens":                           a.createToken,
		"DELETE /v1/me/tokens/{token}":                 a.revokeToken,
		"GET /v1/admin/users/{user}/tokens":            a.admin(a.listTokens),
		"POST /v1/admin/users/{user}/tokens":           a.admin(a.createToken),
		"DELETE /v1/admin/users/{user}/tokens/{token}": a.admin(a.revokeToken),
	}
	for _, route := range Routes {
		mux.Handle(route, a.authenticated(route, h[route]))
	}
	// Anything else under /v1 (an unknown path, or a known path with another method) gets a
	// problem document too, not the mux's plain-text 404/405.
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		a.metrics.requests.WithLabelValues("unmatched", "404").Inc()
		writeProblem(w, problem(http.StatusNotFound, ProbNotFound, "No such route",
			r.Method+" "+r.URL.Path+" is not an API route; docs/api.md lists them."))
	})
}

// handlerFunc is a route handler: it returns nil after writing a response, or a problem to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem

// reqCtx is what the middleware established about a request.
type reqCtx struct {
	id     *Identity
	kind   string // tenant routes: noc or osp
	tenant string
	role   string // the user's role there, or "system-admin"
	// token routes: the user whose tokens are acted on, and a created token's id (for logs)
	target, tokenID string
}

type action int

const (
	actRead action = iota
	actWrite
	// actManageRoster: editing the OSP's own rosters, OSP admins only (DESIGN §1: rosters
	// belong to the OSP).
	actManageRoster
	// actControl: steering a running callout (controls.go): admins and operators of the NOC
	// or of the OSP, each only with its own kind's actions.
	actControl
)

// authenticated resolves the bearer token, runs h, and writes its problem if any. It logs the
// user and tenant, never the token.
func (a *API) authenticated(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		}
		status := http.StatusOK
		sw := &statusWriter{ResponseWriter: w, status: &status}
		c := &reqCtx{}
		var p *Problem
		addr := clientAddr(r, a.cfg.ClientIPHeader)
		token, ok := bearer(r)
		if lp, wait := a.limits.check(addr, token); lp != nil {
			retryAfter(sw, wait)
			p = lp
			a.log.Info().Str("route", route).Str("client_addr", addr).Msg("authentication refused: too many failed attempts")
		} else if ok && !a.cfg.DevMode && IsDevToken(token) {
			// Derived from a public seed: anyone can compute it. Refused like an unknown token;
			// the log says why, never the token.
			a.log.Warn().Str("route", route).Str("client_addr", addr).
				Msg("authentication refused: a dev token (stk_dev_, from 'strike dev') is accepted only by 'strike dev'; create a real token with 'strike admin token create'")
		} else if ok {
			id, err := lookup(ctx, a.deps.Pool, token)
			if err != nil {
				a.log.Error().Err(err).Str("route", route).Msg("token lookup failed")
				p = problem(http.StatusServiceUnavailable, ProbUnavailable, "Try again", "The identity store is unavailable.")
			}
			c.id = id
			if id != nil {
				a.touchToken(ctx, token)
			}
		}
		switch {
		case p != nil:
		case c.id == nil:
			a.limits.fail(addr, token)
			p = errUnauthenticated
		default:
			p = h(sw, r, c)
		}
		if p != nil {
			writeProblem(sw, p)
		}
		a.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		a.metrics.seconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		// Denials, admin writes and token changes are logged at info (DESIGN §1, issue 10);
		// everything else at debug. Never a token: only ids.
		method, path, _ := strings.Cut(route, " ")
		tokenRoute := strings.Contains(path, "/tokens")
		ev, msg := a.log.Debug(), "api request"
		switch {
		case status >= 500:
			ev = a.log.Error()
		case status == http.StatusUnauthorized || status == http.StatusForbidden || (status == http.StatusNotFound && tokenRoute):
			ev, msg = a.log.Info(), "api request denied"
		case method != http.MethodGet && strings.HasPrefix(path, "/v1/admin/"):
			ev, msg = a.log.Info(), "admin write"
		case method != http.MethodGet && tokenRoute:
			ev, msg = a.log.Info(), "token change"
		}
		if c.id != nil {
			ev = ev.Str("user_id", c.id.UserID)
		}
		if c.kind == KindNOC {
			ev = ev.Str(logging.FieldNOC, c.tenant)
		} else if c.kind == KindOSP {
			ev = ev.Str(logging.FieldOSP, c.tenant)
		} else {
			// Admin routes name tenants in the path.
			if noc := r.PathValue("noc"); noc != "" {
				ev = ev.Str(logging.FieldNOC, noc)
			}
			if osp := r.PathValue("osp"); osp != "" {
				ev = ev.Str(logging.FieldOSP, osp)
			}
		}
		if eco := r.PathValue("eco"); eco != "" {
			ev = ev.Str(logging.FieldECO, eco)
		}
		if c.target != "" {
			ev = ev.Str("target_user_id", c.target)
		}
		// A token id only when it is one: a secret pasted into the path is never logged.
		if id := cmp.Or(c.tokenID, r.PathValue("token")); uuidPattern.MatchString(id) {
			ev = ev.Str("token_id", id)
		}
		if status == http.StatusUnauthorized {
			ev = ev.Str("client_addr", addr)
		}
		ev.Str("route", route).Int("status", status).Dur("took", time.Since(start)).Msg(msg)
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// tenant wraps a tenant route: the active tenant is the {noc} or {osp} path value, and the user
// must be a member there (or a system admin, checked explicitly).
func (a *API) tenant(kind string, act action, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
		c.kind, c.tenant = kind, r.PathValue(kind)
		role, p := Authorize(c.id, kind, c.tenant, act)
		if p != nil {
			return p
		}
		c.role = role
		return h(w, r, c)
	}
}

// Action is what a tenant route asks to do in the tenant (Authorize).
type Action = action

// The actions, for the browser UI (producers/gateway/web).
const (
	ActRead         = actRead
	ActWrite        = actWrite
	ActManageRoster = actManageRoster
	ActControl      = actControl
)

// Authorize is the access decision of every tenant route, the API's and the browser UI's
// (producers/gateway/web): the user's role in the tenant, or the problem that refuses them, in
// the order of the package comment, then whether the role may do act.
func Authorize(id *Identity, kind, tenant string, act Action) (string, *Problem) {
	if id == nil {
		return "", errUnauthenticated
	}
	if kind != KindNOC && kind != KindOSP {
		return "", errForbiddenTenant
	}
	role, ok := id.member(kind, tenant)
	switch {
	case ok:
	case id.SystemAdmin:
		role = "system-admin"
	case len(id.Memberships) == 0:
		return "", errNoMemberships
	default:
		// Also for ids that are not even well-formed: the answer never depends on
		// whether the tenant exists.
		return "", errForbiddenTenant
	}
	if !tenantIDPattern.MatchString(tenant) {
		return "", problem(http.StatusNotFound, ProbNotFound, "No such tenant", "Tenant ids are lower-case slugs.")
	}
	if act == actWrite && !CanWrite(kind, role) {
		return "", problem(http.StatusForbidden, ProbForbiddenRole, "Your role cannot do this",
			"Creating and cancelling ECOs needs the admin or operator role in the NOC.")
	}
	if act == actControl && !CanControl(role) {
		return "", problem(http.StatusForbidden, ProbForbiddenRole, "Your role cannot do this",
			"Controlling a running callout needs the admin or operator role in the tenant.")
	}
	if act == actManageRoster && !CanManageRoster(kind, role) {
		return "", problem(http.StatusForbidden, ProbForbiddenRole, "Your role cannot do this",
			"Editing rosters needs the admin role in the OSP; every member can read them.")
	}
	return role, nil
}

// CanManageRoster reports whether role may edit the rosters of a tenant of kind.
func CanManageRoster(kind, role string) bool {
	return kind == KindOSP && (role == RoleAdmin || role == "system-admin")
}

// CanWrite reports whether role may create and cancel ECOs in a tenant of kind.
func CanWrite(kind, role string) bool {
	return kind == KindNOC && slices.Contains([]string{RoleAdmin, RoleOperator, "system-admin"}, role)
}

// admin wraps a system-admin route.
func (a *API) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
		if !c.id.SystemAdmin {
			return errNotSystemAdmin
		}
		c.role = "system-admin"
		return h(w, r, c)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status *int
}

func (s *statusWriter) WriteHeader(code int) {
	*s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// meResponse answers "who am I and where can I act".
type meResponse struct {
	User        meUser  `json:"user"`
	Access      string  `json:"access"` // none | single | multiple | system-admin
	Landing     string  `json:"landing,omitempty"`
	Notice      string  `json:"notice,omitempty"`
	Memberships []meTen `json:"tenants"`
}

type meUser struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	SystemAdmin bool   `json:"system_admin"`
}

type meTen struct {
	Membership
	ECOs string `json:"ecos_url"`
}

func (a *API) me(w http.ResponseWriter, _ *http.Request, c *reqCtx) *Problem {
	resp := meResponse{User: meUser{ID: c.id.UserID, Email: c.id.Email, DisplayName: c.id.DisplayName,
		SystemAdmin: c.id.SystemAdmin}, Memberships: []meTen{}}
	for _, m := range c.id.Memberships {
		resp.Memberships = append(resp.Memberships, meTen{Membership: m, ECOs: "/v1/" + m.Kind + "s/" + m.TenantID + "/ecos"})
	}
	switch {
	case len(resp.Memberships) == 1:
		resp.Access, resp.Landing = "single", resp.Memberships[0].ECOs
	case len(resp.Memberships) > 1:
		resp.Access = "multiple"
	case c.id.SystemAdmin:
		resp.Access, resp.Landing = "system-admin", "/v1/admin/tenants"
		resp.Notice = "You are a system admin with no tenant memberships: admin routes are open to you, and tenant routes by the system-admin check."
	default:
		resp.Access, resp.Notice = "none", ProbNoMemberships+": your account has no NOC or OSP memberships yet; ask a system admin to add you."
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type listResponse struct {
	Items      []ECO  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListQuery is an ECO list request as the query string gives it: every field optional.
type ListQuery struct {
	Status, Since, Q, Cursor, Limit string
}

func (a *API) listECOs(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	qv := r.URL.Query()
	resp, p := a.list(r.Context(), c.kind, c.tenant, ListQuery{Status: qv.Get("status"), Since: qv.Get("since"),
		Q: qv.Get("q"), Cursor: qv.Get("cursor"), Limit: qv.Get("limit")})
	if p != nil {
		return p
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// list validates q and reads one page of the tenant's ECOs; the caller has authorized.
func (a *API) list(ctx context.Context, kind, tenant string, q ListQuery) (listResponse, *Problem) {
	var errs []FieldError
	f := ListFilter{Status: q.Status, Q: strings.TrimSpace(q.Q), Limit: a.cfg.DefaultPageSize}
	if f.Status != "" && !slices.Contains(projection.Statuses, f.Status) {
		errs = append(errs, FieldError{"status", "want one of " + strings.Join(projection.Statuses, ", ")})
	}
	if s := q.Since; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, FieldError{"since", "want an RFC 3339 time such as 2026-05-01T00:00:00Z"})
		} else {
			f.Since = &t
		}
	}
	if len(f.Q) > 100 {
		errs = append(errs, FieldError{"q", "at most 100 characters"})
	}
	if l := q.Limit; l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > a.cfg.MaxPageSize {
			errs = append(errs, FieldError{"limit", "want 1.." + strconv.Itoa(a.cfg.MaxPageSize)})
		} else {
			f.Limit = n
		}
	}
	fp := listFingerprint(kind, tenant, f.Status, q.Since, f.Q)
	if s := q.Cursor; s != "" {
		cur, err := decodeCursor(s, fp)
		if err != nil {
			errs = append(errs, FieldError{"cursor", "not a cursor of this list; start again without it"})
		} else {
			f.After = &projection.Position{At: cur.At, ID: cur.ID}
		}
	}
	if len(errs) > 0 {
		return listResponse{}, problem(http.StatusBadRequest, ProbValidation, "Invalid query", "", errs...)
	}
	items, more, err := projection.ListECOs(ctx, a.deps.Pool, kind, tenant, f)
	if err != nil {
		a.log.Error().Err(err).Msg("list ECOs")
		return listResponse{}, errInternal
	}
	resp := listResponse{Items: items}
	if more {
		last := items[len(items)-1]
		resp.NextCursor = encodeCursor(last.CreatedAt, last.ECOID, fp)
	}
	return resp, nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

var errECONotFound = problem(http.StatusNotFound, ProbNotFound, "No such ECO", "This tenant has no ECO with that id.")

func (a *API) getECO(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	d, p := a.get(r.Context(), c.kind, c.tenant, r.PathValue("eco"))
	if p != nil {
		return p
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// get reads one ECO of the tenant with its timeline and calls; the caller has authorized.
func (a *API) get(ctx context.Context, kind, tenant, eco string) (ECODetail, *Problem) {
	eco = strings.ToLower(eco)
	if !uuidPattern.MatchString(eco) {
		return ECODetail{}, errECONotFound
	}
	d, err := getECO(ctx, a.deps.Pool, kind, tenant, eco)
	if errors.Is(err, projection.ErrNotFound) {
		return ECODetail{}, errECONotFound
	}
	if err != nil {
		a.log.Error().Err(err).Str(logging.FieldECO, eco).Msg("get ECO")
		return ECODetail{}, errInternal
	}
	return d, nil
}

type metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	intake   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_api_requests_total",
			Help: "API requests, by route pattern and HTTP status.",
		}, []string{"route", "status"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strike_api_request_duration_seconds",
			Help:    "API request latency, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_api_intake_total",
			Help: "HTTP intake requests produced, by kind (create, cancel, control) and outcome (accepted, replayed, conflict, refused; controls: wrong_kind, finished).",
		}, []string{"kind", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds, m.intake)
	}
	return m
}
