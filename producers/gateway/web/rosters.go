package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/producers/gateway"
)

// Rosters belong to the OSP: every member reads them, OSP admins edit them, through the
// gateway's roster routes' own code (RostersFor, RosterFor, PutRosterFor).

// rosterRows is how many empty rows the editor offers for new people, awayRows for new away
// windows.
const (
	rosterRows = 3
	awayRows   = 2
)

// awayLayout is how an away window's times are written in the form: datetime-local, in UTC.
const awayLayout = "2006-01-02T15:04"

type rosterData struct {
	Region   string
	Roster   *gateway.RosterView
	CanEdit  bool
	Rows     []rosterRow
	Away     []awayRow
	Reasons  []string
	Rotation string
	Name     string
	Errors   []gateway.FieldError
	Error    string
	Saved    bool
}

type rosterRow struct {
	Position, Name, Phone string
}

// awayRow is one away window in the form, for the person with Phone.
type awayRow struct {
	Phone, From, Until, Reason, Note, SubName, SubPhone string
	// Choices are the people the window may be for; the row's own phone is among them even if
	// it is not on the roster (the form is shown again with the error).
	Choices []choice
}

type choice struct {
	Value, Text string
	Selected    bool
}

// finish adds the empty rows and the choices of person for each away window.
func (d *rosterData) finish() {
	d.Reasons = tenancy.AwayReasons
	d.Away = append(d.Away, make([]awayRow, awayRows)...)
	for i := range d.Away {
		a := &d.Away[i]
		a.Choices = []choice{{Value: "", Text: "—", Selected: a.Phone == ""}}
		found := a.Phone == ""
		for _, r := range d.Rows {
			if r.Phone != "" {
				a.Choices = append(a.Choices, choice{Value: r.Phone, Text: r.Name + " " + r.Phone, Selected: r.Phone == a.Phone})
				found = found || r.Phone == a.Phone
			}
		}
		if !found {
			a.Choices = append(a.Choices, choice{Value: a.Phone, Text: a.Phone + " (not on this roster)", Selected: true})
		}
	}
	d.Rows = append(d.Rows, make([]rosterRow, rosterRows)...)
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
			d.Rows = append(d.Rows, rosterRow{Position: strconv.Itoa(c.Position), Name: c.Name, Phone: c.Phone})
			for _, w := range c.Unavailable {
				a := awayRow{Phone: c.Phone, From: formTime(w.From), Until: formTime(w.Until), Reason: w.Reason, Note: w.Note}
				if w.Substitute != nil {
					a.SubName, a.SubPhone = w.Substitute.Name, w.Substitute.Phone
				}
				d.Away = append(d.Away, a)
			}
		}
	case p.Status == http.StatusNotFound && d.CanEdit:
		// A new region: the editor starts empty.
	default:
		u.refused(w, r, q, p)
		return
	}
	d.finish()
	u.renderActive(w, r, http.StatusOK, "roster", q, a, d)
}

// formTime is an RFC 3339 time as the form's datetime-local field shows it (UTC).
func formTime(rfc string) string {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return rfc
	}
	return t.UTC().Format(awayLayout)
}

// saveRoster replaces the roster with the form's people and their away windows; rows left
// empty are dropped. An away window names its person by phone number.
func (u *UI) saveRoster(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActManageRoster)
	if !ok {
		return
	}
	region := r.PathValue("region")
	f := r.PostForm
	d := &rosterData{Region: region, CanEdit: true, Name: strings.TrimSpace(f.Get("name")), Rotation: f.Get("rotation")}
	body := gateway.RosterBody{Name: d.Name, Rotation: d.Rotation, Contacts: []gateway.ContactBody{}}
	pos, names, phones := f["position"], f["contact_name"], f["phone"]
	for i := range names {
		row := rosterRow{Name: strings.TrimSpace(names[i]), Position: at(pos, i), Phone: at(phones, i)}
		if row.Name == "" && row.Phone == "" {
			continue
		}
		d.Rows = append(d.Rows, row)
		n, err := strconv.Atoi(row.Position)
		if err != nil {
			d.Errors = append(d.Errors, gateway.FieldError{Field: "contacts/" + strconv.Itoa(len(body.Contacts)) + "/position", Detail: "want a whole number"})
		}
		body.Contacts = append(body.Contacts, gateway.ContactBody{Position: n, Name: row.Name, Phone: row.Phone})
	}
	for i := range f["away_phone"] {
		ar := awayRow{Phone: at(f["away_phone"], i), From: at(f["away_from"], i), Until: at(f["away_until"], i), Reason: at(f["away_reason"], i),
			Note: at(f["away_note"], i), SubName: at(f["sub_name"], i), SubPhone: at(f["sub_phone"], i)}
		if ar.Phone == "" && ar.From == "" && ar.Until == "" && ar.SubName == "" && ar.SubPhone == "" && ar.Note == "" {
			continue
		}
		d.Away = append(d.Away, ar)
		field := "away/" + strconv.Itoa(len(d.Away)-1)
		wb := gateway.AwayBody{Reason: ar.Reason, Note: ar.Note}
		for _, t := range []struct {
			name, v string
			to      *string
		}{{"from", ar.From, &wb.From}, {"until", ar.Until, &wb.Until}} {
			tt, err := time.Parse(awayLayout, t.v)
			if err != nil {
				d.Errors = append(d.Errors, gateway.FieldError{Field: field + "/" + t.name, Detail: "want a date and time (UTC)"})
				continue
			}
			*t.to = tt.UTC().Format(time.RFC3339)
		}
		if ar.SubName != "" || ar.SubPhone != "" {
			wb.Substitute = &gateway.PersonBody{Name: ar.SubName, Phone: ar.SubPhone}
		}
		j := slices.IndexFunc(body.Contacts, func(c gateway.ContactBody) bool { return c.Phone == ar.Phone })
		if j < 0 {
			d.Errors = append(d.Errors, gateway.FieldError{Field: field + "/person", Detail: "choose a person on this roster (" + ar.Phone + " is not on this roster)"})
			continue
		}
		body.Contacts[j].Unavailable = append(body.Contacts[j].Unavailable, wb)
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
	d.finish()
	u.renderActive(w, r, status, "roster", q, a, d)
}

// at is the trimmed i-th value, "" past the end.
func at(vs []string, i int) string {
	if i < len(vs) {
		return strings.TrimSpace(vs[i])
	}
	return ""
}

// newRoster turns the "new region" form into the region's roster page.
func (u *UI) newRoster(w http.ResponseWriter, r *http.Request, q *req) {
	a, ok := u.authorize(w, r, q, gateway.KindOSP, gateway.ActManageRoster)
	if !ok {
		return
	}
	http.Redirect(w, r, rosterURL(a.ID, strings.TrimSpace(r.URL.Query().Get("region"))), http.StatusSeeOther)
}
