package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/osprey-strike/strike/internal/jobnumber"
	"github.com/osprey-strike/strike/producers/gateway"
)

// System configuration edits, system admins only, through the admin routes' own code
// (SaveOSPFor, SaveLinkFor): an OSP's name, prefix and job template (previewed before saving),
// and a link's status.

type ospEdit struct {
	OSP     gateway.SystemOSP
	NOCCode string // the code the preview renders {noc} with
	Preview string
	Error   string
}

func (u *UI) adminOSP(w http.ResponseWriter, r *http.Request, q *req) {
	c, p := u.api.SystemConfigFor(r.Context(), q.id)
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	id := r.PathValue("osp")
	d := &ospEdit{}
	found := false
	for _, o := range c.OSPs {
		if o.ID == id {
			d.OSP, found = o, true
		}
	}
	if !found {
		u.errorPage(w, r, q, http.StatusNotFound, "No such OSP", "There is no OSP with that id.")
		return
	}
	d.NOCCode = previewNOC(c, id)
	d.Preview = d.OSP.NextJobNumber
	if r.Method == http.MethodPost {
		f := r.PostForm
		d.OSP.Name, d.OSP.JobPrefix, d.OSP.JobTemplate = strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("job_prefix")), strings.TrimSpace(f.Get("job_template"))
		d.Preview, d.Error = preview(d.OSP, d.NOCCode, u.api.Now().UTC().Year())
		if f.Get("action") == "save" && d.Error == "" {
			if p := u.api.SaveOSPFor(r.Context(), q.id, id, gateway.OSPBody{Name: d.OSP.Name, JobPrefix: d.OSP.JobPrefix, JobTemplate: d.OSP.JobTemplate}); p != nil {
				if p.Status == http.StatusForbidden {
					u.refused(w, r, q, p)
					return
				}
				d.Error = p.Detail
			} else {
				http.Redirect(w, r, "/admin?saved="+url.QueryEscape(id), http.StatusSeeOther)
				return
			}
		}
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	u.render(w, r, status, "adminosp", q, d)
}

// previewNOC is the code of the first NOC linked to the OSP, or "NOC".
func previewNOC(c gateway.SystemConfig, osp string) string {
	for _, l := range c.Links {
		if l.OSP == osp {
			for _, n := range c.NOCs {
				if n.ID == l.NOC {
					return n.Code
				}
			}
		}
	}
	return "NOC"
}

// preview renders the OSP's next job number with a template not saved yet, or says what is wrong
// with it (the same parser that validates on save).
func preview(o gateway.SystemOSP, nocCode string, year int) (string, string) {
	t, err := jobnumber.Parse(o.JobTemplate)
	if err != nil {
		return "", strings.TrimPrefix(err.Error(), jobnumber.ErrInvalid.Error()+": ")
	}
	return t.Render(jobnumber.Fields{Prefix: o.JobPrefix, NOC: nocCode, Num: o.LastNumber + 1, Year: year}), ""
}

var linkStatuses = []string{"active", "suspended", "removed"}

func (u *UI) adminLink(w http.ResponseWriter, r *http.Request, q *req) {
	status := r.PostForm.Get("status")
	p := u.api.SaveLinkFor(r.Context(), q.id, r.PathValue("noc"), r.PathValue("osp"),
		gateway.LinkBody{Status: status, IsDefault: r.PostForm.Get("is_default") == "on"})
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	http.Redirect(w, r, "/admin?saved="+url.QueryEscape(r.PathValue("noc")+" → "+r.PathValue("osp")), http.StatusSeeOther)
}
