package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// pages are the parsed templates, one set per page: base layout + partials + the page.
type pages map[string]*template.Template

var pageNames = []string{"signin", "noaccess", "forbidden", "error", "chooser", "board", "eco", "new", "admin", "rosters", "roster", "adminosp", "adminnoc"}

func parsePages() (pages, error) {
	p := pages{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/base.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	User    *gateway.Identity
	CSRF    string
	Active  *active // the tenant in the URL, if any
	Now     time.Time
	Data    any
	Page    string
	Tenants []gateway.Membership
}

// active is the tenant the page acts in. Its name comes from the user's own memberships only,
// never from a lookup, so a page cannot tell whether a tenant the user is not in exists.
type active struct {
	Kind, ID, Name, Role string
}

func (a *active) Board() string { return boardURL(a.Kind, a.ID) }

// CanWrite reports whether the role may create and cancel ECOs here.
func (a *active) CanWrite() bool { return gateway.CanWrite(a.Kind, a.Role) }

func (u *UI) activeFor(q *req, kind, tenant, role string) *active {
	a := &active{Kind: kind, ID: tenant, Name: tenant, Role: role}
	for _, m := range q.id.Memberships {
		if m.Kind == kind && m.TenantID == tenant {
			a.Name = m.TenantName
		}
	}
	return a
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, q *req, data any) {
	u.renderActive(w, r, status, name, q, nil, data)
}

// view is what page's templates get for q in tenant a (nil outside a tenant).
func (u *UI) view(q *req, a *active, page string, data any) view {
	v := view{User: q.id, Active: a, Now: u.api.Now(), Data: data, Page: page}
	if q.sess != nil {
		v.CSRF = q.sess.csrf
	}
	if q.id != nil {
		v.Tenants = q.id.Memberships
	}
	return v
}

func (u *UI) renderActive(w http.ResponseWriter, _ *http.Request, status int, name string, q *req, a *active, data any) {
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "base", u.view(q, a, name, data)); err != nil {
		u.log.Error().Err(err).Str("page", name).Msg("render page")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// authorize is gateway.Authorize plus the page's active tenant.
func (u *UI) authorize(w http.ResponseWriter, r *http.Request, q *req, kind string, act gateway.Action) (*active, bool) {
	tenant := r.PathValue(kind)
	role, p := gateway.Authorize(q.id, kind, tenant, act)
	if p != nil {
		u.refused(w, r, q, p)
		return nil, false
	}
	return u.activeFor(q, kind, tenant, role), true
}

// boardData is the board page's model.
type boardData struct {
	Items      []gateway.ECO
	Status, Q  string
	NextCursor string
	Statuses   []string
	Kind       string
	LiveURL    string
	NextURL    string
	Requested  string // an ECO just requested from the create form
}

func (u *UI) board(kind string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, q *req) {
		a, ok := u.authorize(w, r, q, kind, gateway.ActRead)
		if !ok {
			return
		}
		d, p := u.boardData(r, q, a)
		if p != nil {
			if p.Status == http.StatusBadRequest {
				u.renderActive(w, r, http.StatusBadRequest, "board", q, a, d)
				return
			}
			u.refused(w, r, q, p)
			return
		}
		u.renderActive(w, r, http.StatusOK, "board", q, a, d)
	}
}

func (u *UI) boardData(r *http.Request, q *req, a *active) (*boardData, *gateway.Problem) {
	kind, tenant := a.Kind, a.ID
	qv := r.URL.Query()
	d := &boardData{Status: qv.Get("status"), Q: qv.Get("q"), Statuses: gateway.Statuses, Kind: kind}
	if id := qv.Get("requested"); uuidLike(id) {
		d.Requested = id
	}
	items, next, p := u.api.ListFor(r.Context(), q.id, kind, tenant, gateway.ListQuery{Status: d.Status, Q: d.Q, Cursor: qv.Get("cursor")})
	if p != nil {
		return d, p
	}
	d.Items, d.NextCursor = items, next
	filter := url.Values{}
	if d.Status != "" {
		filter.Set("status", d.Status)
	}
	if d.Q != "" {
		filter.Set("q", d.Q)
	}
	if next != "" {
		nv := url.Values{"cursor": {next}}
		for k, v := range filter {
			nv[k] = v
		}
		d.NextURL = boardURL(kind, tenant) + "?" + nv.Encode()
	}
	// Only the first page is live: a later page is a look back.
	if qv.Get("cursor") == "" {
		d.LiveURL = boardURL(kind, tenant) + "/live"
		if len(filter) > 0 {
			d.LiveURL += "?" + filter.Encode()
		}
	}
	return d, nil
}

// ecoData is the ECO page's model.
type ecoData struct {
	gateway.ECODetail
	Kind        string
	Acceptances []acceptance
	Timeline    []timelineItem
	LiveURL     string
	Cancellable bool
	Cancelled   bool // a cancel was just requested from this page
	// Steerable: the callout runs and the role may control it; Control is the action just
	// queued from this page.
	Steerable  bool
	Control    string
	Guardrails engagement.Guardrails
}

type acceptance struct {
	Name, Phone string
	At          time.Time
	Late        bool
}

type timelineItem struct {
	At    time.Time
	Label string
	Note  string
}

func (u *UI) eco(kind string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, q *req) {
		a, ok := u.authorize(w, r, q, kind, gateway.ActRead)
		if !ok {
			return
		}
		d, p := u.ecoData(r, q, a)
		if p != nil {
			u.refused(w, r, q, p)
			return
		}
		u.renderActive(w, r, http.StatusOK, "eco", q, a, d)
	}
}

func (u *UI) ecoData(r *http.Request, q *req, a *active) (*ecoData, *gateway.Problem) {
	kind, tenant := a.Kind, a.ID
	det, p := u.api.GetFor(r.Context(), q.id, kind, tenant, r.PathValue("eco"))
	if p != nil {
		return nil, p
	}
	d := &ecoData{ECODetail: det, Kind: kind, LiveURL: boardURL(kind, tenant) + "/" + det.ECOID + "/live",
		Cancellable: kind == gateway.KindNOC && gateway.Cancellable(det.Status),
		Cancelled:   r.URL.Query().Get("cancelled") == "1", Control: r.URL.Query().Get("control"),
		Steerable: !gateway.Finished(det.Status) && gateway.CanControl(a.Role), Guardrails: engagement.Defaults()}
	for _, ev := range det.Timeline {
		d.Timeline = append(d.Timeline, describe(ev))
		if ev.Type == schemas.TypeCalloutAccepted {
			var acc schemas.CalloutAccepted
			if json.Unmarshal(ev.Data, &acc) == nil {
				d.Acceptances = append(d.Acceptances, acceptance{Name: acc.Contact.Name, Phone: acc.Contact.Phone, At: acc.AcceptedAt, Late: acc.Late})
			}
		}
	}
	return d, nil
}

func uuidLike(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// describe turns a timeline event into a line a person reads.
func describe(ev gateway.TimelineEvent) timelineItem {
	var m map[string]any
	_ = json.Unmarshal(ev.Data, &m)
	str := func(path ...string) string {
		var cur any = m
		for _, k := range path {
			mm, ok := cur.(map[string]any)
			if !ok {
				return ""
			}
			cur = mm[k]
		}
		switch v := cur.(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			if v {
				return "yes"
			}
		}
		return ""
	}
	it := timelineItem{At: ev.OccurredAt}
	switch ev.Type {
	case schemas.TypeECOCreated:
		it.Label, it.Note = "ECO created", "job "+str("job_number")
	case schemas.TypeECORejected:
		it.Label, it.Note = "Request rejected", str("reason")+" "+str("detail")
	case schemas.TypeECOCancelled:
		it.Label, it.Note = "ECO cancelled", str("reason")
	case schemas.TypeCalloutStarted:
		it.Label = "Callout started"
	case schemas.TypeCalloutCallPlaced:
		it.Label, it.Note = "Call placed", str("contact", "name")
	case schemas.TypeCalloutCallEnded:
		it.Label, it.Note = "Call ended", str("contact", "name")+": "+callResult(str("result"))
	case schemas.TypeCalloutAccepted:
		it.Label, it.Note = "Accepted", str("contact", "name")
		if str("late") == "yes" {
			it.Label = "Late acceptance"
		}
	case schemas.TypeCalloutDeclined:
		it.Label, it.Note = "Declined", str("contact", "name")
	case schemas.TypeCalloutRetryScheduled:
		it.Label, it.Note = "Retry scheduled", str("retry_at")
	case schemas.TypeCalloutFailedOver:
		it.Label, it.Note = "Failed over", "to "+str("to_osp_tenant_id")
	case schemas.TypeCalloutExhausted:
		it.Label, it.Note = "Callout exhausted", str("reason")
	case schemas.TypeCalloutCancelled:
		it.Label = "Callout cancelled"
	case schemas.TypeRenderJobChanged:
		it.Label, it.Note = "Field status", str("status")+" "+str("assignee")
	case schemas.TypeCalloutControlOutcome:
		it.Label, it.Note = describeControl(ev.Data)
	case schemas.TypeCalloutContactSkipped:
		it.Label, it.Note = describeSkip(ev.Data)
	case schemas.TypeCalloutCallIn:
		it.Label, it.Note = describeCallIn(ev.Data)
	default:
		// Events this page has no words for yet: their type, readably.
		it.Label = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(ev.Type, "strike."), ".v1"), ".", " ")
	}
	it.Note = strings.TrimSpace(it.Note)
	return it
}

// newData is the create form's model.
type newData struct {
	Form   gateway.CreateForm
	Values map[string]string
	Errors []gateway.FieldError
	Error  string
}

func (u *UI) newECO(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindNOC, gateway.ActWrite)
	if !ok {
		return
	}
	f, p := u.api.CreateFormFor(r.Context(), q.id, a.ID)
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	u.renderActive(w, r, http.StatusOK, "new", q, a, &newData{Form: f, Values: map[string]string{"priority": "P2", "people_needed": "1"}})
}

var formFields = []string{"osp_tenant_id", "region", "priority", "site_name", "site_address", "summary",
	"noc_ticket_ref", "people_needed", "loop_count", "ring_duration_seconds", "retry_after_seconds", "max_retries", "request_id"}

func (u *UI) createECO(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindNOC, gateway.ActWrite)
	if !ok {
		return
	}
	vals := map[string]string{}
	for _, k := range formFields {
		vals[k] = strings.TrimSpace(r.PostForm.Get(k))
	}
	body, errs := bodyFromForm(vals)
	var resp gateway.IntakeResponse
	var p *gateway.Problem
	if len(errs) == 0 {
		resp, p = u.api.CreateFor(r.Context(), q.id, a.ID, body)
	}
	if len(errs) > 0 || p != nil {
		f, fp := u.api.CreateFormFor(r.Context(), q.id, a.ID)
		if fp != nil {
			u.refused(w, r, q, fp)
			return
		}
		d := &newData{Form: f, Values: vals, Errors: errs}
		status := http.StatusUnprocessableEntity
		if p != nil {
			status = p.Status
			if status == http.StatusForbidden {
				u.refused(w, r, q, p)
				return
			}
			d.Errors, d.Error = p.Errors, p.Title
			if p.Detail != "" {
				d.Error += ": " + p.Detail
			}
		}
		u.renderActive(w, r, status, "new", q, a, d)
		return
	}
	// The ECO exists once the pipeline has created it (a job number is allocated); until then
	// the board says it was requested, and the live board shows it when it is projected.
	http.Redirect(w, r, boardURL(gateway.KindNOC, a.ID)+"?requested="+url.QueryEscape(resp.ECOID), http.StatusSeeOther)
}

// bodyFromForm builds the API's create body from the form; number fields that do not parse are
// field errors with the same names the API uses.
func bodyFromForm(v map[string]string) (gateway.CreateECOBody, []gateway.FieldError) {
	var errs []gateway.FieldError
	num := func(field, apiName string, dst **int) {
		if v[field] == "" {
			return
		}
		n, err := strconv.Atoi(v[field])
		if err != nil {
			errs = append(errs, gateway.FieldError{Field: apiName, Detail: "want a whole number"})
			return
		}
		*dst = &n
	}
	b := gateway.CreateECOBody{RequestID: v["request_id"], OSPTenantID: v["osp_tenant_id"], Region: v["region"], Priority: v["priority"],
		Site: schemas.Site{Name: v["site_name"], Address: v["site_address"]}, Summary: v["summary"], NOCTicketRef: v["noc_ticket_ref"]}
	var people *int
	num("people_needed", "people_needed", &people)
	if people != nil {
		b.PeopleNeeded = *people
	}
	var o schemas.EngagementOverrides
	num("loop_count", "engagement/loop_count", &o.LoopCount)
	num("ring_duration_seconds", "engagement/ring_duration_seconds", &o.RingDurationSeconds)
	num("retry_after_seconds", "engagement/retry_after_seconds", &o.RetryAfterSeconds)
	num("max_retries", "engagement/max_retries", &o.MaxRetries)
	if o.LoopCount != nil || o.RingDurationSeconds != nil || o.RetryAfterSeconds != nil || o.MaxRetries != nil {
		b.Engagement = &o
	}
	return b, errs
}

func (u *UI) cancelECO(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindNOC, gateway.ActWrite)
	if !ok {
		return
	}
	eco := r.PathValue("eco")
	_, p := u.api.CancelFor(r.Context(), q.id, a.ID, eco, gateway.CancelECOBody{Reason: strings.TrimSpace(r.PostForm.Get("reason"))})
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	http.Redirect(w, r, boardURL(gateway.KindNOC, a.ID)+"/"+url.PathEscape(strings.ToLower(eco))+"?cancelled=1", http.StatusSeeOther)
}

func (u *UI) admin(w http.ResponseWriter, r *http.Request, q *req) {
	c, p := u.api.SystemConfigFor(r.Context(), q.id)
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	u.render(w, r, http.StatusOK, "admin", q, adminData{SystemConfig: c, Saved: r.URL.Query().Get("saved")})
}

type adminData struct {
	gateway.SystemConfig
	Saved string
}

var funcs = template.FuncMap{
	"age": func(now, t time.Time) string {
		d := now.Sub(t)
		switch {
		case d < time.Minute:
			return "just now"
		case d < time.Hour:
			return fmt.Sprintf("%dm", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
		}
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	},
	"ts": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if v != nil {
				return v.UTC().Format("2006-01-02 15:04:05Z")
			}
		}
		return ""
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"s": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"i": func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	},
	"label":   func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"result":  callResult,
	"skipped": func(e gateway.PersonEntry) string { return skipWhy(e.Reason, e.AwayUntil, e.Substitute) },
	"errFor": func(errs []gateway.FieldError, field string) string {
		var out []string
		for _, e := range errs {
			if e.Field == field || strings.HasPrefix(e.Field, field+"/") {
				out = append(out, e.Detail)
			}
		}
		return strings.Join(out, "; ")
	},
	"otherErrs": func(errs []gateway.FieldError) []gateway.FieldError {
		known := map[string]bool{}
		for _, f := range formFields {
			known[f] = true
		}
		known["site/name"], known["site/address"] = true, true
		for _, f := range []string{"loop_count", "ring_duration_seconds", "retry_after_seconds", "max_retries"} {
			known["engagement/"+f] = true
		}
		var out []gateway.FieldError
		for _, e := range errs {
			if !known[e.Field] {
				out = append(out, e)
			}
		}
		return out
	},
	"board": boardURL,
	"upper": strings.ToUpper,
	"inc":   func(i int) int { return i + 1 },
	"inc64": func(i int64) int64 { return i + 1 },
	"list":  func(xs ...string) []string { return xs },
	"member": func(ms []gateway.Membership, kind, tenant string) bool {
		for _, m := range ms {
			if m.Kind == kind && m.TenantID == tenant {
				return true
			}
		}
		return false
	},
	"dur": func(secs int) string { return (time.Duration(secs) * time.Second).String() },
}
