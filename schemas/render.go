package schemas

import "time"

// Render event types on strike.render.changes.v1, keyed by osp_tenant_id.
const (
	TypeRenderJobChanged = "strike.render.job.changed.v1"
	TypeRenderDispatch   = "strike.render.dispatch.v1"
)

// RenderJobChanged is one change of a field job seen by the render-poller.
type RenderJobChanged struct {
	ChangeID    string    `json:"change_id"`
	OSPTenantID string    `json:"osp_tenant_id"`
	NOCTenantID string    `json:"noc_tenant_id,omitempty"`
	ECOID       string    `json:"eco_id,omitempty"`
	InstanceID  string    `json:"instance_id"`
	RenderJobID string    `json:"render_job_id"`
	ExternalRef string    `json:"external_ref"`
	JobNumber   string    `json:"job_number,omitempty"`
	Status      string    `json:"status"`
	Assignee    string    `json:"assignee,omitempty"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
	DetectedAt  time.Time `json:"detected_at"`
}

// Dispatch results.
const (
	DispatchCreated    = "created"
	DispatchExisting   = "existing"
	DispatchFailed     = "failed"
	DispatchNoInstance = "no_instance"
)

// RenderDispatch is the outcome of creating an ECO's Render job.
type RenderDispatch struct {
	ECOID       string    `json:"eco_id"`
	NOCTenantID string    `json:"noc_tenant_id"`
	OSPTenantID string    `json:"osp_tenant_id"`
	JobNumber   string    `json:"job_number"`
	RenderJobID string    `json:"render_job_id,omitempty"`
	Result      string    `json:"result"`
	Error       string    `json:"error,omitempty"`
	Attempt     int       `json:"attempt"`
	At          time.Time `json:"at"`
}
