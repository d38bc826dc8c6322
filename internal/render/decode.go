package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The wire shapes of docs/render-api.md. Unknown fields are ignored so Render can add some.
type wireJob struct {
	ID          string        `json:"id"`
	ExternalRef string        `json:"external_ref"`
	Status      string        `json:"status"`
	Assignee    *wireAssignee `json:"assignee"`
	UpdatedAt   string        `json:"updated_at"`
	Version     int64         `json:"version"`
}

type wireAssignee struct {
	Name string `json:"name"`
}

type wirePage struct {
	Jobs          *[]wireJob `json:"jobs"`
	NextPageToken string     `json:"next_page_token"`
	NextCursor    string     `json:"next_cursor"`
}

type wireError struct {
	Error string   `json:"error"`
	Job   *wireJob `json:"job"`
}

type wireSpec struct {
	ExternalRef string `json:"external_ref"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Region      string `json:"region,omitempty"`
	Address     string `json:"address,omitempty"`
}

// Field limits: anything longer is not something Render would send.
const (
	maxIDLen    = 256
	maxNameLen  = 512
	maxTokenLen = 4096
)

// page is one decoded page of the change feed.
type page struct {
	Jobs          []Job
	NextPageToken string
	NextCursor    string
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// decodePage decodes and validates one change-feed page. Every page either continues
// (next_page_token) or ends the read (next_cursor); a page with neither is malformed, as is
// any job that is not a complete, valid revision.
func decodePage(body []byte) (page, error) {
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return page{}, malformed("job page: %w", jsonErr(err))
	}
	if w.Jobs == nil {
		return page{}, malformed(`job page: no "jobs" array`)
	}
	if len(w.NextPageToken) > maxTokenLen || len(w.NextCursor) > maxTokenLen {
		return page{}, malformed("job page: next_page_token or next_cursor longer than %d bytes", maxTokenLen)
	}
	if w.NextPageToken == "" && w.NextCursor == "" {
		return page{}, malformed("job page: neither next_page_token nor next_cursor")
	}
	p := page{Jobs: make([]Job, 0, len(*w.Jobs)), NextPageToken: w.NextPageToken, NextCursor: w.NextCursor}
	for i, wj := range *w.Jobs {
		j, err := wj.job()
		if err != nil {
			return page{}, malformed("job page: jobs[%d]: %w", i, err)
		}
		p.Jobs = append(p.Jobs, j)
	}
	return p, nil
}

// decodeJob decodes a single job object (GET /jobs/{id}, 201 from create).
func decodeJob(body []byte) (Job, error) {
	var w wireJob
	if err := json.Unmarshal(body, &w); err != nil {
		return Job{}, malformed("job: %w", jsonErr(err))
	}
	j, err := w.job()
	if err != nil {
		return Job{}, malformed("job: %w", err)
	}
	return j, nil
}

// decodeLookup decodes the answer to GET /jobs?external_ref=: no job or exactly the one with
// that reference.
func decodeLookup(body []byte, ref string) (Job, bool, error) {
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return Job{}, false, malformed("job lookup: %w", jsonErr(err))
	}
	if w.Jobs == nil {
		return Job{}, false, malformed(`job lookup: no "jobs" array`)
	}
	switch len(*w.Jobs) {
	case 0:
		return Job{}, false, nil
	case 1:
	default:
		return Job{}, false, malformed("job lookup: %d jobs share one external_ref", len(*w.Jobs))
	}
	j, err := (*w.Jobs)[0].job()
	if err != nil {
		return Job{}, false, malformed("job lookup: %w", err)
	}
	if j.ExternalRef != ref {
		return Job{}, false, malformed("job lookup: answered a job with another external_ref")
	}
	return j, true, nil
}

// decodeConflict reads the existing job from a 409 answer to create; ok is false if the
// answer does not include it (the contract then says: look it up by external_ref).
func decodeConflict(body []byte) (Job, bool, error) {
	var w wireError
	if err := json.Unmarshal(body, &w); err != nil {
		return Job{}, false, malformed("create conflict: %w", jsonErr(err))
	}
	if w.Job == nil {
		return Job{}, false, nil
	}
	j, err := w.Job.job()
	if err != nil {
		return Job{}, false, malformed("create conflict: job: %w", err)
	}
	return j, true, nil
}

// errorCode returns the "error" field of an error answer if it is a plain code, so it can go
// into an error message without carrying anything else the server put in the body.
func errorCode(body []byte) string {
	var w wireError
	if json.Unmarshal(body, &w) != nil || len(w.Error) > 64 {
		return ""
	}
	for _, r := range w.Error {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return ""
		}
	}
	return w.Error
}

// job validates a wire job into a Job.
func (w wireJob) job() (Job, error) {
	switch {
	case w.ID == "":
		return Job{}, errors.New("missing id")
	case len(w.ID) > maxIDLen:
		return Job{}, fmt.Errorf("id longer than %d bytes", maxIDLen)
	case len(w.ExternalRef) > maxIDLen:
		return Job{}, fmt.Errorf("external_ref longer than %d bytes", maxIDLen)
	case w.Status == "":
		return Job{}, errors.New("missing status")
	case !Status(w.Status).Valid():
		return Job{}, fmt.Errorf("unknown status %q", truncate(w.Status, 32))
	case w.Version < 1:
		return Job{}, errors.New("missing or non-positive version")
	case w.UpdatedAt == "":
		return Job{}, errors.New("missing updated_at")
	}
	at, err := time.Parse(time.RFC3339Nano, w.UpdatedAt)
	if err != nil || at.IsZero() {
		return Job{}, errors.New("updated_at is not an RFC 3339 time")
	}
	j := Job{ID: w.ID, ExternalRef: w.ExternalRef, Status: Status(w.Status), UpdatedAt: at.UTC(), Version: w.Version}
	if w.Assignee != nil {
		if len(w.Assignee.Name) > maxNameLen {
			return Job{}, fmt.Errorf("assignee name longer than %d bytes", maxNameLen)
		}
		j.Assignee = w.Assignee.Name
	}
	return j, nil
}

// jsonErr keeps the position and kind of a JSON error but never quotes the body.
func jsonErr(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case err.Error() == "unexpected end of JSON input":
		return errors.New("JSON ends early (truncated)")
	}
	return errors.New("invalid JSON")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sameRevision reports whether two revisions with the same (ID, Version) agree.
func sameRevision(a, b Job) bool {
	return a.ID == b.ID && a.Version == b.Version && a.ExternalRef == b.ExternalRef &&
		a.Status == b.Status && a.Assignee == b.Assignee && a.UpdatedAt.Equal(b.UpdatedAt)
}
