package web

import (
	"net/http"
	"net/url"
	"strconv"
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

type nocEdit struct {
	NOC    gateway.SystemNOC
	Policy map[string]string
	Error  string
}

// adminNOC shows and saves a NOC's identity, its Strike-owned Twilio context and its callout
// policy (two forms: form=noc or form=policy).
func (u *UI) adminNOC(w http.ResponseWriter, r *http.Request, q *req) {
	c, p := u.api.SystemConfigFor(r.Context(), q.id)
	if p != nil {
		u.refused(w, r, q, p)
		return
	}
	id := r.PathValue("noc")
	d := &nocEdit{Policy: map[string]string{}}
	found := false
	for _, n := range c.NOCs {
		if n.ID == id {
			d.NOC, found = n, true
		}
	}
	if !found {
		u.errorPage(w, r, q, http.StatusNotFound, "No such NOC", "There is no NOC with that id.")
		return
	}
	if pol := d.NOC.Policy; pol != nil {
		d.Policy["loop_count"], d.Policy["retry_after_seconds"], d.Policy["max_retries"] = strconv.Itoa(pol.LoopCount), strconv.Itoa(pol.RetryAfterSeconds), strconv.Itoa(pol.MaxRetries)
		d.Policy["failover_osp_ids"] = strings.Join(pol.FailoverOSPIDs, ", ")
		if pol.RingDurationSeconds != nil {
			d.Policy["ring_duration_seconds"] = strconv.Itoa(*pol.RingDurationSeconds)
		}
	}
	if r.Method == http.MethodPost {
		f := r.PostForm
		var p *gateway.Problem
		switch f.Get("form") {
		case "noc":
			d.NOC.Name, d.NOC.Code = strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("code"))
			d.NOC.TwilioSubaccountSID, d.NOC.CallerID = strings.TrimSpace(f.Get("twilio_subaccount_sid")), strings.TrimSpace(f.Get("caller_id"))
			p = u.api.SaveNOCFor(r.Context(), q.id, id, gateway.NOCBody{Name: d.NOC.Name, Code: d.NOC.Code,
				TwilioSubaccountSID: d.NOC.TwilioSubaccountSID, CallerID: d.NOC.CallerID})
		case "policy":
			var b gateway.PolicyBody
			var bad []string
			for _, k := range []string{"loop_count", "retry_after_seconds", "max_retries", "ring_duration_seconds", "failover_osp_ids"} {
				d.Policy[k] = strings.TrimSpace(f.Get(k))
			}
			num := func(k string) int {
				n, err := strconv.Atoi(d.Policy[k])
				if err != nil {
					bad = append(bad, k)
				}
				return n
			}
			b.LoopCount, b.RetryAfterSeconds, b.MaxRetries = num("loop_count"), num("retry_after_seconds"), num("max_retries")
			if d.Policy["ring_duration_seconds"] != "" {
				n := num("ring_duration_seconds")
				b.RingDurationSeconds = &n
			}
			b.FailoverOSPIDs = []string{}
			for _, o := range strings.Split(d.Policy["failover_osp_ids"], ",") {
				if o = strings.TrimSpace(o); o != "" {
					b.FailoverOSPIDs = append(b.FailoverOSPIDs, o)
				}
			}
			if len(bad) > 0 {
				d.Error = "want whole numbers: " + strings.Join(bad, ", ")
			} else {
				p = u.api.SavePolicyFor(r.Context(), q.id, id, b)
			}
		default:
			d.Error = "unknown form"
		}
		if p != nil {
			if p.Status == http.StatusForbidden {
				u.refused(w, r, q, p)
				return
			}
			d.Error = p.Detail
		}
		if d.Error == "" {
			http.Redirect(w, r, "/admin?saved="+url.QueryEscape(id), http.StatusSeeOther)
			return
		}
		u.render(w, r, http.StatusUnprocessableEntity, "adminnoc", q, d)
		return
	}
	u.render(w, r, http.StatusOK, "adminnoc", q, d)
}
