package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/osprey-strike/strike/internal/calloutcontrol"
	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/schemas"
)

// Problem slugs of the control routes.
const (
	// ProbWrongTenantKind: the action belongs to the other tenant kind (DESIGN §1: the NOC owns
	// engagement intent, the OSP its people).
	ProbWrongTenantKind = "wrong-tenant-kind"
	// ProbECOFinished: the ECO's callout has ended; there is nothing left to steer.
	ProbECOFinished = "eco-finished"
)

// ControlBody is the body of POST /v1/{nocs|osps}/{tenant}/ecos/{eco}/controls. Who sends it
// comes from the token and the tenant from the URL, so neither can be forged in the body.
type ControlBody struct {
	// RequestID makes the call idempotent (a UUID): a retry with the same id is one control.
	RequestID string `json:"request_id,omitempty"`
	// Action: stop, set_people_needed, set_passes (NOC); skip, call_next, add_number (OSP).
	Action          string `json:"action"`
	PeopleNeeded    int    `json:"people_needed,omitempty"`
	LoopCount       int    `json:"loop_count,omitempty"`
	ContactPosition int    `json:"contact_position,omitempty"`
	Phone           string `json:"phone,omitempty"`
	Name            string `json:"name,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// ControlResponse is the 202 answer: the control is queued; its outcome (applied or refused,
// with the reason) appears on the ECO's timeline as strike.callout.control.outcome.v1.
type ControlResponse struct {
	ControlID string `json:"control_id"`
	ECOID     string `json:"eco_id"`
	Action    string `json:"action"`
	Status    string `json:"status"`
	ECOURL    string `json:"eco_url"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// finishedStatuses are the board statuses after which no control can change anything.
var finishedStatuses = []string{projection.StatusAccepted, projection.StatusExhausted, projection.StatusFailedOver,
	projection.StatusCancelled, projection.StatusRejected}

func (a *API) controlECO(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	eco := strings.ToLower(r.PathValue("eco"))
	if !uuidPattern.MatchString(eco) {
		return errECONotFound
	}
	var body ControlBody
	if p := decodeBody(r, &body, false); p != nil {
		return p
	}
	resp, p := a.control(r.Context(), c, eco, body)
	if p != nil {
		return p
	}
	writeJSON(w, http.StatusAccepted, resp)
	return nil
}

// control validates a control of one of the tenant's running ECOs and produces it; the caller
// has authorized ActControl.
func (a *API) control(ctx context.Context, c *reqCtx, eco string, body ControlBody) (ControlResponse, *Problem) {
	eco = strings.ToLower(eco)
	if !uuidPattern.MatchString(eco) {
		return ControlResponse{}, errECONotFound
	}
	owner := schemas.ControlOwner(body.Action)
	if owner == "" {
		return ControlResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid control", "",
			FieldError{"action", "one of stop, set_people_needed, set_passes (NOC); skip, call_next, add_number (OSP)"})
	}
	if owner != c.kind {
		a.metrics.intake.WithLabelValues("control", "wrong_kind").Inc()
		return ControlResponse{}, problem(http.StatusForbidden, ProbWrongTenantKind, "Not this tenant's decision",
			fmt.Sprintf("%s is decided by the %s: the NOC owns engagement intent (stop, people needed, passes), the OSP its people (skip, call next, ad-hoc numbers).",
				body.Action, strings.ToUpper(owner)))
	}
	if errs := checkControl(body); len(errs) > 0 {
		return ControlResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid control", "", errs...)
	}
	entry, err := projection.LookUp(ctx, a.deps.Pool, c.kind, c.tenant, eco)
	if errors.Is(err, projection.ErrNotFound) {
		return ControlResponse{}, errECONotFound
	}
	if err != nil {
		a.log.Error().Err(err).Msg("read ECO for control")
		return ControlResponse{}, errInternal
	}
	noc, osp, status := entry.NOC, entry.OSP, entry.Status
	if Finished(status) {
		a.metrics.intake.WithLabelValues("control", "finished").Inc()
		return ControlResponse{}, problem(http.StatusConflict, ProbECOFinished, "The callout has ended",
			fmt.Sprintf("The ECO is %s; a control changes only a running callout.", status))
	}
	if body.RequestID == "" {
		body.RequestID = uuid.NewString()
	}
	now := a.cfg.Now()
	ctl := schemas.CalloutControl{ControlID: body.RequestID, ECOID: eco, NOCTenantID: noc, OSPTenantID: osp,
		Actor: schemas.Actor{Kind: c.kind, TenantID: c.tenant, Role: c.role, User: requester(c.id)}, Action: body.Action,
		PeopleNeeded: body.PeopleNeeded, LoopCount: body.LoopCount, ContactPosition: body.ContactPosition,
		Phone: body.Phone, Name: body.Name, Reason: body.Reason, RequestedAt: now.UTC()}
	rec, err := calloutcontrol.Record(a.deps.Validator, &ctl, "strike/"+Name, now)
	if err != nil {
		return ControlResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid control", "", schemaFieldErrors(err.Error())...)
	}
	if err := a.deps.Producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		a.log.Error().Err(err).Str(logging.FieldECO, eco).Msg("produce control")
		return ControlResponse{}, problem(http.StatusServiceUnavailable, ProbUnavailable, "Try again",
			"The control could not be queued. Retry with the same request_id; it will be applied once.")
	}
	a.metrics.intake.WithLabelValues("control", "accepted").Inc()
	// The audit line: who steered which ECO how (the outcome event records the decision).
	a.log.Info().Str("user_id", c.id.UserID).Str("tenant_kind", c.kind).Str("role", c.role).Str(logging.FieldNOC, noc).
		Str(logging.FieldOSP, osp).Str(logging.FieldECO, eco).Str("control_id", ctl.ControlID).Str("action", ctl.Action).
		Msg("callout control queued")
	url := "/v1/" + c.kind + "s/" + c.tenant + "/ecos/" + eco
	return ControlResponse{ControlID: ctl.ControlID, ECOID: eco, Action: ctl.Action, Status: "accepted", ECOURL: url}, nil
}

// checkControl checks the fields an action needs against Strike's guardrails. The dialer
// checks again (it decides against the ring-down as it is when the control arrives).
func checkControl(b ControlBody) []FieldError {
	g := engagement.Defaults()
	errs := checkRequestReason(b.RequestID, b.Reason)
	switch b.Action {
	case schemas.ControlPeopleNeeded:
		if b.PeopleNeeded < 1 || b.PeopleNeeded > g.PeopleNeededMax {
			errs = append(errs, FieldError{"people_needed", fmt.Sprintf("want 1..%d (Strike's bound)", g.PeopleNeededMax)})
		}
	case schemas.ControlPasses:
		if b.LoopCount < g.LoopCountMin || b.LoopCount > g.LoopCountMax {
			errs = append(errs, FieldError{"loop_count", fmt.Sprintf("want %d..%d (Strike's bound)", g.LoopCountMin, g.LoopCountMax)})
		}
	case schemas.ControlSkip, schemas.ControlCallNext:
		if b.ContactPosition < 1 {
			errs = append(errs, FieldError{"contact_position", "want the roster position (1 or more) of the contact"})
		}
	case schemas.ControlAddNumber:
		if !e164.MatchString(b.Phone) {
			errs = append(errs, FieldError{"phone", "want an E.164 number, e.g. +15551234567"})
		}
		if len(b.Name) > 200 {
			errs = append(errs, FieldError{"name", "at most 200 characters"})
		}
	}
	return errs
}
