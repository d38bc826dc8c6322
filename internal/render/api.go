package render

import (
	"context"
	"time"
)

// API is everything Strike needs from a Render instance. *Client implements it against the
// contract in docs/render-api.md; tests of the poller may fake it.
type API interface {
	// ChangedJobs reads every page of the change feed after cursor ("" is the start of the
	// feed) and returns the job revisions with the cursor to store once they are handled.
	// Any failure fails the whole read and no cursor is returned, so no change is lost.
	ChangedJobs(ctx context.Context, cursor string) (Changes, error)
	// CreateJob creates the field job for spec.ExternalRef (the Strike job number), or
	// returns the job that already has it with created false: retrying is always safe.
	CreateJob(ctx context.Context, spec JobSpec) (job Job, created bool, err error)
	// GetJob returns one job's current state; ErrNotFound if there is none.
	GetJob(ctx context.Context, id string) (Job, error)
}

// Status is a Render job's field status.
type Status string

// The field statuses. A job normally goes dispatched → en_route → on_site → resolved;
// cancelled can follow any of them.
const (
	StatusDispatched Status = "dispatched"
	StatusEnRoute    Status = "en_route"
	StatusOnSite     Status = "on_site"
	StatusResolved   Status = "resolved"
	StatusCancelled  Status = "cancelled"
)

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusDispatched, StatusEnRoute, StatusOnSite, StatusResolved, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether the job is finished (resolved or cancelled).
func (s Status) Terminal() bool { return s == StatusResolved || s == StatusCancelled }

// Job is one revision of a Render job. (ID, Version) identifies the revision: Version grows by
// at least one on every change of the job, so it orders a job's revisions and makes a
// deterministic event id for the change.
type Job struct {
	ID          string
	ExternalRef string // the Strike job number; empty for jobs not created by Strike
	Status      Status
	Assignee    string // the assignee's name; empty while unassigned
	UpdatedAt   time.Time
	Version     int64
}

// JobSpec is the field job Strike asks for when an ECO is created.
type JobSpec struct {
	ExternalRef string // required: the Strike job number, the idempotency key
	Title       string
	Description string
	Region      string
	Address     string
}

// Changes is one complete read of the change feed.
type Changes struct {
	// Jobs are the revisions in feed order, each (ID, Version) once; a job that changed
	// several times since the cursor appears once per change.
	Jobs []Job
	// NextCursor is where the next read starts. Store it only after Jobs are durably handled.
	NextCursor string
	// Pages is how many pages were read; Duplicates how many repeated revisions were dropped.
	Pages      int
	Duplicates int
}
