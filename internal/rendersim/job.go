package rendersim

import (
	"time"
)

// Field statuses, as on the wire.
const (
	StatusDispatched = "dispatched"
	StatusEnRoute    = "en_route"
	StatusOnSite     = "on_site"
	StatusResolved   = "resolved"
	StatusCancelled  = "cancelled"
)

func validStatus(s string) bool {
	switch s {
	case StatusDispatched, StatusEnRoute, StatusOnSite, StatusResolved, StatusCancelled:
		return true
	}
	return false
}

// Schedule says how long a job stays in each non-terminal status before moving on by itself. A
// zero step means the job stays in that status until SetStatus moves it; the zero Schedule
// therefore keeps every job still, which is what most tests want.
type Schedule struct {
	EnRoute  time.Duration // dispatched → en_route
	OnSite   time.Duration // en_route → on_site
	Resolved time.Duration // on_site → resolved
}

// DefaultSchedule moves a job to en_route after 10 s, on_site 20 s later and resolved 30 s
// after that, so a demo ECO's field status visibly moves within a minute.
func DefaultSchedule() Schedule {
	return Schedule{EnRoute: 10 * time.Second, OnSite: 20 * time.Second, Resolved: 30 * time.Second}
}

// next returns the status after s and how long s lasts; ok is false if s does not move on.
func (sc Schedule) next(s string) (next string, after time.Duration, ok bool) {
	switch s {
	case StatusDispatched:
		return StatusEnRoute, sc.EnRoute, sc.EnRoute > 0
	case StatusEnRoute:
		return StatusOnSite, sc.OnSite, sc.OnSite > 0
	case StatusOnSite:
		return StatusResolved, sc.Resolved, sc.Resolved > 0
	}
	return "", 0, false
}

// Job is a simulated Render job as the admin hooks show it.
type Job struct {
	ID          string
	ExternalRef string
	Title       string
	Region      string
	Status      string
	Assignee    string // empty until the job goes en_route
	Version     int64  // starts at 1, +1 on every change
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// JobSpec is what a create request carries.
type JobSpec struct {
	ExternalRef string `json:"external_ref"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Region      string `json:"region,omitempty"`
	Address     string `json:"address,omitempty"`
}

// crew are the assignees jobs are given, round-robin by job number.
var crew = [...]string{"Alex Rivera", "Sam Okafor", "Priya Nair", "Jordan Lee", "Maria Santos", "Chen Wei"}

type job struct {
	Job
	n         int       // creation number, 1-based
	enteredAt time.Time // when the job entered its current status
}

// wireJob is the JSON shape of a job (docs/render-api.md).
type wireJob struct {
	ID          string        `json:"id"`
	ExternalRef string        `json:"external_ref"`
	Title       string        `json:"title,omitempty"`
	Region      string        `json:"region,omitempty"`
	Status      string        `json:"status"`
	Assignee    *wireAssignee `json:"assignee"`
	Version     int64         `json:"version"`
	CreatedAt   string        `json:"created_at"`
	UpdatedAt   string        `json:"updated_at"`
}

type wireAssignee struct {
	Name string `json:"name"`
}

func toWire(j Job) wireJob {
	w := wireJob{
		ID: j.ID, ExternalRef: j.ExternalRef, Title: j.Title, Region: j.Region, Status: j.Status,
		Version:   j.Version,
		CreatedAt: j.CreatedAt.UTC().Format(time.RFC3339Nano),
		UpdatedAt: j.UpdatedAt.UTC().Format(time.RFC3339Nano),
	}
	if j.Assignee != "" {
		w.Assignee = &wireAssignee{Name: j.Assignee}
	}
	return w
}
