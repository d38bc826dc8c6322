package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/osprey-strike/strike/producers/gateway"
)

// Rosters belong to the OSP: every member reads them, OSP admins edit them, through the
// gateway's roster routes' own code (RostersFor, RosterFor, PutRosterFor).

// rosterRows is how many empty rows the editor offers for new people.
const rosterRows = 3

type rosterData struct {
	Region   string
	Roster   *gateway.RosterView
	CanEdit  bool
	Rows     []rosterRow
	Rotation string
	Name     string
	Errors   []gateway.FieldError
	Error    string
	Saved    bool
}

type rosterRow struct {
	Position, Name, Phone string
	Away                  int // away windows kept as they are (edited over the API)
}

func rosterURL(osp, region string) string {
	return "/osps/" + url.PathEscape(osp) + "/rosters/" + url.PathEscape(region)
}

func (u *UI) rosters(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActRead)
	if !ok {
		return
	}
	items, p := u.api.RostersFor(r.Context(), q.id, a.ID)
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	u.renderActive(w, r, http.StatusOK, "rosters", q, a, map[string]any{"Items": items, "CanEdit": gateway.CanManageRoster(a.Kind, a.Role)})
}

func (u *UI) roster(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActRead)
	if !ok {
		return
	}
	region := r.PathValue("region")
	d := &rosterData{Region: region, CanEdit: gateway.CanManageRoster(a.Kind, a.Role), Saved: r.URL.Query().Get("saved") == "1"}
	v, p := u.api.RosterFor(r.Context(), q.id, a.ID, region)
	switch {
	case p == nil:
		d.Roster, d.Name, d.Rotation = &v, v.Name, v.Rotation
		for _, c := range v.Contacts {
			d.Rows = append(d.Rows, rosterRow{Position: strconv.Itoa(c.Position), Name: c.Name, Phone: c.Phone, Away: len(c.Unavailable)})
		}
	case p.Status == http.StatusNotFound && d.CanEdit:
		// A new region: the editor starts empty.
	default:
		u.refused(w, r, q, p)
		return
	}
	d.Rows = append(d.Rows, make([]rosterRow, rosterRows)...)
	u.renderActive(w, r, http.StatusOK, "roster", q, a, d)
}

// saveRoster replaces the roster with the form's people; rows left empty are dropped, and each
// kept person keeps their away windows (matched by phone number), which the form does not edit.
func (u *UI) saveRoster(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActManageRoster)
	if !ok {
		return
	}
	region := r.PathValue("region")
	away := map[string][]gateway.AwayBody{}
	if v, p := u.api.RosterFor(r.Context(), q.id, a.ID, region); p == nil {
		for _, c := range v.Contacts {
			away[c.Phone] = c.Unavailable
		}
	}
	f := r.PostForm
	d := &rosterData{Region: region, CanEdit: true, Name: strings.TrimSpace(f.Get("name")), Rotation: f.Get("rotation")}
	body := gateway.RosterBody{Name: d.Name, Rotation: d.Rotation, Contacts: []gateway.ContactBody{}}
	pos, names, phones := f["position"], f["contact_name"], f["phone"]
	for i := range names {
		row := rosterRow{Name: strings.TrimSpace(names[i])}
		if i < len(pos) {
			row.Position = strings.TrimSpace(pos[i])
		}
		if i < len(phones) {
			row.Phone = strings.TrimSpace(phones[i])
		}
		if row.Name == "" && row.Phone == "" {
			continue
		}
		d.Rows = append(d.Rows, row)
		n, err := strconv.Atoi(row.Position)
		if err != nil {
			d.Errors = append(d.Errors, gateway.FieldError{Field: "contacts/" + strconv.Itoa(len(body.Contacts)) + "/position", Detail: "want a whole number"})
		}
		body.Contacts = append(body.Contacts, gateway.ContactBody{Position: n, Name: row.Name, Phone: row.Phone, Unavailable: away[row.Phone]})
	}
	var p *gateway.Problem
	if len(d.Errors) == 0 {
		p = u.api.PutRosterFor(r.Context(), q.id, a.ID, region, body)
	}
	if p == nil && len(d.Errors) == 0 {
		http.Redirect(w, r, rosterURL(a.ID, region)+"?saved=1", http.StatusSeeOther)
		return
	}
	status := http.StatusUnprocessableEntity
	if p != nil {
		if p.Status == http.StatusForbidden || p.Status == http.StatusUnauthorized {
			u.refused(w, r, q, p)
			return
		}
		status, d.Errors, d.Error = p.Status, p.Errors, p.Title
		if p.Detail != "" {
			d.Error += ": " + p.Detail
		}
	}
	d.Rows = append(d.Rows, make([]rosterRow, rosterRows)...)
	u.renderActive(w, r, status, "roster", q, a, d)
}

// newRoster turns the "new region" form into the region's roster page.
func (u *UI) newRoster(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActManageRoster)
	if !ok {
		return
	}
	http.Redirect(w, r, rosterURL(a.ID, strings.TrimSpace(r.URL.Query().Get("region"))), http.StatusSeeOther)
}
