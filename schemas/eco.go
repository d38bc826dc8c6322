package schemas

import "time"

// ECORequest is a NOC's request for an emergency callout (eco-request.v1.json).
type ECORequest struct {
	RequestID    string               `json:"request_id"`
	NOCTenantID  string               `json:"noc_tenant_id"`
	OSPTenantID  string               `json:"osp_tenant_id"`
	Region       string               `json:"region"`
	Priority     string               `json:"priority"`
	Site         Site                 `json:"site"`
	Summary      string               `json:"summary"`
	NOCTicketRef string               `json:"noc_ticket_ref,omitempty"`
	RequestedBy  Requester            `json:"requested_by"`
	PeopleNeeded int                  `json:"people_needed,omitempty"`
	Engagement   *EngagementOverrides `json:"engagement,omitempty"`
	ParentECOID  string               `json:"parent_eco_id,omitempty"`
	RequestedAt  *time.Time           `json:"requested_at,omitempty"`
}

// Site is where the field work is.
type Site struct {
	Name      string   `json:"name"`
	Address   string   `json:"address,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// Requester is who at the NOC asked for the ECO.
type Requester struct {
	Name   string `json:"name"`
	Email  string `json:"email,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

// EngagementOverrides are a request's optional overrides of the NOC's callout policy.
type EngagementOverrides struct {
	LoopCount           *int     `json:"loop_count,omitempty"`
	RetryAfterSeconds   *int     `json:"retry_after_seconds,omitempty"`
	MaxRetries          *int     `json:"max_retries,omitempty"`
	FailoverOSPIDs      []string `json:"failover_osp_ids,omitempty"`
	RingDurationSeconds *int     `json:"ring_duration_seconds,omitempty"`
}

// Engagement is the resolved callout policy an ECO is worked under.
type Engagement struct {
	LoopCount           int      `json:"loop_count"`
	RetryAfterSeconds   int      `json:"retry_after_seconds"`
	MaxRetries          int      `json:"max_retries"`
	FailoverOSPIDs      []string `json:"failover_osp_ids"`
	RingDurationSeconds int      `json:"ring_duration_seconds"`
}

// ECOCreated announces an ECO and its OSP job number (eco-created.v1.json).
type ECOCreated struct {
	ECOID        string     `json:"eco_id"`
	RequestID    string     `json:"request_id"`
	JobNumber    string     `json:"job_number"`
	Number       int64      `json:"number"`
	NOCTenantID  string     `json:"noc_tenant_id"`
	OSPTenantID  string     `json:"osp_tenant_id"`
	Region       string     `json:"region"`
	Priority     string     `json:"priority"`
	Site         Site       `json:"site"`
	Summary      string     `json:"summary"`
	NOCTicketRef string     `json:"noc_ticket_ref,omitempty"`
	RequestedBy  Requester  `json:"requested_by"`
	PeopleNeeded int        `json:"people_needed"`
	Engagement   Engagement `json:"engagement"`
	ParentECOID  string     `json:"parent_eco_id,omitempty"`
	RequestedAt  *time.Time `json:"requested_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Rejection reasons carried by eco.rejected.
const (
	ReasonUnknownNOC            = "unknown_noc"
	ReasonUnknownOSP            = "unknown_osp"
	ReasonLinkNotActive         = "link_not_active"
	ReasonNoRosterForRegion     = "no_roster_for_region"
	ReasonFailoverLinkNotActive = "failover_link_not_active"
	ReasonOverrideOutOfBounds   = "override_out_of_bounds"
	ReasonRequestIDConflict     = "request_id_conflict"
	// ReasonTenantMismatch: a request (or cancel) on a NOC's ingress topic names another NOC.
	ReasonTenantMismatch = "tenant_mismatch"
)

// ECORejected is a well-formed request refused for a business reason (eco-rejected.v1.json).
type ECORejected struct {
	ECOID       string    `json:"eco_id"`
	RequestID   string    `json:"request_id"`
	NOCTenantID string    `json:"noc_tenant_id"`
	OSPTenantID string    `json:"osp_tenant_id"`
	Region      string    `json:"region,omitempty"`
	Reason      string    `json:"reason"`
	Detail      string    `json:"detail"`
	ParentECOID string    `json:"parent_eco_id,omitempty"`
	RejectedAt  time.Time `json:"rejected_at"`
}

// ECOCancel is a NOC's request to cancel an ECO (eco-cancel.v1.json), produced to
// strike.eco.requests.v1 keyed by OSP so it follows the ECO's own request.
type ECOCancel struct {
	RequestID   string    `json:"request_id"`
	ECOID       string    `json:"eco_id"`
	NOCTenantID string    `json:"noc_tenant_id"`
	OSPTenantID string    `json:"osp_tenant_id"`
	RequestedBy Requester `json:"requested_by"`
	Reason      string    `json:"reason,omitempty"`
}

// ECOCancelled announces an accepted cancel (eco-cancelled.v1.json).
type ECOCancelled struct {
	ECOID       string    `json:"eco_id"`
	RequestID   string    `json:"request_id"`
	NOCTenantID string    `json:"noc_tenant_id"`
	OSPTenantID string    `json:"osp_tenant_id"`
	JobNumber   string    `json:"job_number"`
	CancelledBy Requester `json:"cancelled_by"`
	Reason      string    `json:"reason,omitempty"`
	CancelledAt time.Time `json:"cancelled_at"`
}

// ReasonUnknownECO rejects a cancel for an ECO that does not exist for that NOC and OSP.
const ReasonUnknownECO = "unknown_eco"
