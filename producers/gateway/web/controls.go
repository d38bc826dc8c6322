package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/osprey-strike/strike/producers/gateway"
)

// Steering a running callout from the ECO page, through the control route's own code
// (ControlFor): the NOC stops it or changes people needed and passes; the OSP skips someone,
// calls someone next or adds a number. The outcome (applied or refused, and why) arrives on the
// ECO's timeline, which the live page shows.

func (u *UI) controlECO(kind string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, q *req) {
		a, ok := u.authorize(w, r, q, kind, gateway.ActControl)
		if !ok {
			return
		}
		f := r.PostForm
		num := func(k string) int {
			n, _ := strconv.Atoi(strings.TrimSpace(f.Get(k))) // an empty or bad number is 0, which the control's checks refuse with the field
			return n
		}
		b := gateway.ControlBody{Action: f.Get("action"), PeopleNeeded: num("people_needed"), LoopCount: num("loop_count"),
			ContactPosition: num("contact_position"), Phone: strings.TrimSpace(f.Get("phone")), Name: strings.TrimSpace(f.Get("name")),
			Reason: strings.TrimSpace(f.Get("reason"))}
		eco := strings.ToLower(r.PathValue("eco"))
		resp, p := u.api.ControlFor(r.Context(), q.id, kind, a.ID, eco, b)
		if p != nil {
			if p.Status == http.StatusForbidden && p.Slug() != gateway.ProbWrongTenantKind {
				u.refused(w, r, q, p)
				return
			}
			detail := p.Detail
			for _, e := range p.Errors {
				detail += " " + e.Field + ": " + e.Detail + "."
			}
			u.errorPage(w, r, q, p.Status, p.Title, strings.TrimSpace(detail))
			return
		}
		http.Redirect(w, r, boardURL(kind, a.ID)+"/"+url.PathEscape(eco)+"?control="+url.QueryEscape(resp.Action), http.StatusSeeOther)
	}
}
