package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/schemas"
)

// CreateECOBody is the body of POST /v1/nocs/{noc}/ecos. The NOC comes from the URL and the
// requester from the token, so neither can be forged in the body.
type CreateECOBody struct {
	// RequestID makes the call idempotent: send the same id (a UUID) when retrying. Optional.
	RequestID    string                       `json:"request_id,omitempty"`
	OSPTenantID  string                       `json:"osp_tenant_id"`
	Region       string                       `json:"region"`
	Priority     string                       `json:"priority"`
	Site         schemas.Site                 `json:"site"`
	Summary      string                       `json:"summary"`
	NOCTicketRef string                       `json:"noc_ticket_ref,omitempty"`
	PeopleNeeded int                          `json:"people_needed,omitempty"`
	Engagement   *schemas.EngagementOverrides `json:"engagement,omitempty"`
}

// CancelECOBody is the (optional) body of POST /v1/nocs/{noc}/ecos/{eco}/cancel.
type CancelECOBody struct {
	RequestID string `json:"request_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// IntakeResponse is the 202 answer to an intake or cancel.
type IntakeResponse struct {
	RequestID string `json:"request_id"`
	ECOID     string `json:"eco_id"`
	Status    string `json:"status"` // "accepted": produced; the outcome appears on the ECO
	ECOURL    string `json:"eco_url"`
	Replayed  bool   `json:"replayed,omitempty"`
}

// decodeBody reads one JSON object into v, refusing unknown fields, trailing data and bodies
// over the size limit, each with its own problem.
func decodeBody(r *http.Request, v any, optional bool) *Problem {
	raw, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return problem(http.StatusRequestEntityTooLarge, ProbBodyTooLarge, "Body too large",
			fmt.Sprintf("Request bodies are limited to %d bytes.", tooBig.Limit))
	}
	if err != nil {
		return problem(http.StatusBadRequest, ProbMalformedBody, "Could not read the body", "")
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return DecodeJSON(raw, v)
}

// DecodeJSON decodes one JSON object into v strictly: unknown fields, keys given twice, keys in
// the wrong case, wrong types and trailing data are problems naming the field. Exported for the
// fuzz targets.
func DecodeJSON(raw []byte, v any) *Problem {
	if fe := checkKeys(raw, reflect.TypeOf(v)); fe != nil {
		return problem(http.StatusBadRequest, ProbValidation, "Invalid body", fe.Field+": "+fe.Detail, *fe)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		if _, tokErr := dec.Token(); !errors.Is(tokErr, io.EOF) {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return problem(http.StatusBadRequest, ProbValidation, "Invalid body", "",
			FieldError{Field: strings.ReplaceAll(typeErr.Field, ".", "/"), Detail: "want a " + typeErr.Type.String()})
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return problem(http.StatusBadRequest, ProbValidation, "Invalid body", "",
			FieldError{Field: strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), Detail: "unknown field"})
	}
	return problem(http.StatusBadRequest, ProbMalformedBody, "Malformed JSON", err.Error())
}

func requester(id *Identity) schemas.Requester {
	return schemas.Requester{Name: cmpOr(id.DisplayName, id.Email), Email: id.Email, UserID: id.UserID}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func bodyHash(v any) []byte {
	raw, _ := json.Marshal(v)
	h := sha256.Sum256(raw)
	return h[:]
}

func (a *API) createECO(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	var body CreateECOBody
	if p := decodeBody(r, &body, false); p != nil {
		return p
	}
	resp, p := a.create(r.Context(), c, body)
	return writeIntake(w, resp, p)
}

// writeIntake answers an accepted intake with 202 and the ECO's URL.
func writeIntake(w http.ResponseWriter, resp IntakeResponse, p *Problem) *Problem {
	if p != nil {
		return p
	}
	w.Header().Set("Location", resp.ECOURL)
	writeJSON(w, http.StatusAccepted, resp)
	return nil
}

// create validates an ECO request of the caller's NOC and produces it; the caller has
// authorized the write.
func (a *API) create(ctx context.Context, c *reqCtx, body CreateECOBody) (IntakeResponse, *Problem) {
	if body.RequestID == "" {
		body.RequestID = uuid.NewString()
	} else if !uuidPattern.MatchString(body.RequestID) {
		return IntakeResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid ECO request", "",
			FieldError{"request_id", "want a lower-case UUID"})
	}
	now := a.cfg.Now()
	req := schemas.ECORequest{
		RequestID: body.RequestID, NOCTenantID: c.tenant, OSPTenantID: body.OSPTenantID, Region: body.Region,
		Priority: body.Priority, Site: body.Site, Summary: body.Summary, NOCTicketRef: body.NOCTicketRef,
		RequestedBy: requester(c.id), PeopleNeeded: body.PeopleNeeded, Engagement: body.Engagement, RequestedAt: &now,
	}
	rec, err := ecorequest.Record(a.deps.Validator, &req, "strike/"+Name, now)
	if err != nil {
		return IntakeResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid ECO request",
			"The request does not match the ECO request schema (schemas/eco-request.v1.json).", schemaFieldErrors(err.Error())...)
	}
	osps := []string{body.OSPTenantID}
	if body.Engagement != nil {
		osps = append(osps, body.Engagement.FailoverOSPIDs...)
	}
	for i, osp := range osps {
		active, err := a.linkActive(ctx, c.tenant, osp)
		if err != nil {
			a.log.Error().Err(err).Msg("read link")
			return IntakeResponse{}, errInternal
		}
		if !active {
			field := "osp_tenant_id"
			if i > 0 {
				field = fmt.Sprintf("engagement/failover_osp_ids/%d", i-1)
			}
			a.metrics.intake.WithLabelValues("create", "refused").Inc()
			return IntakeResponse{}, problem(http.StatusUnprocessableEntity, ProbLinkNotActive, "No active link to this OSP",
				fmt.Sprintf("NOC %s has no active link to OSP %s, so it cannot give it new work. Existing ECOs stay visible.", c.tenant, osp),
				FieldError{field, "no active link"})
		}
	}
	ecoID := ids.ECOID(c.tenant, body.RequestID)
	return a.produceIntake(ctx, c, "create", body.RequestID, body.OSPTenantID, ecoID, bodyHash(body), rec)
}

// produceIntake records the request id (idempotency) with the record and produces rec. Request
// ids are namespaced per NOC: only the NOC's own earlier use of the id counts, so an answer never
// says whether another NOC used it. A retry with the same id and body re-sends the stored
// original (the eco-processor dedupes by NOC and request id and sees the same document) and is
// answered the same; the same id with another body is a conflict.
func (a *API) produceIntake(ctx context.Context, c *reqCtx, kind, requestID, osp, ecoID string, hash []byte, rec *kgo.Record) (IntakeResponse, *Problem) {
	// The NOC's intake rows are its own (row-level security, migration 00017).
	var inserted bool
	var prevKind, prevECO string
	var prevHash, produced []byte
	err := projection.TenantWriteTx(ctx, a.deps.Pool, KindNOC, c.tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO intake_requests (request_id, kind, noc_tenant_id, osp_tenant_id, eco_id, body_sha256, user_id, produced)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (noc_tenant_id, request_id) DO NOTHING RETURNING true`,
			requestID, kind, c.tenant, osp, ecoID, hash, c.id.UserID, rec.Value).Scan(&inserted)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT kind, body_sha256, eco_id::text, produced FROM intake_requests
			WHERE noc_tenant_id = $1 AND request_id = $2`, c.tenant, requestID).Scan(&prevKind, &prevHash, &prevECO, &produced); err != nil {
			return fmt.Errorf("read intake request: %w", err)
		}
		return nil
	})
	replayed := false
	if err == nil && !inserted {
		if prevKind != kind || !bytes.Equal(prevHash, hash) {
			a.metrics.intake.WithLabelValues(kind, "conflict").Inc()
			return IntakeResponse{}, problem(http.StatusConflict, ProbRequestIDConflict, "Request id already used",
				"This NOC already used this request_id for a different request. Use a new UUID for a new request.",
				FieldError{"request_id", "already used for a different request"})
		}
		replayed, ecoID = true, prevECO // an ECO from before ids were per NOC keeps its id
		if produced != nil {
			rec.Value = produced // rows from before the record was stored are re-sent as rebuilt
		}
	} else if err != nil {
		a.log.Error().Err(err).Msg("save intake request")
		return IntakeResponse{}, errInternal
	}
	if err := a.deps.Producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		a.log.Error().Err(err).Str(logging.FieldNOC, c.tenant).Str(logging.FieldOSP, osp).
			Str(logging.FieldRequest, requestID).Msg("produce intake request")
		return IntakeResponse{}, problem(http.StatusServiceUnavailable, ProbUnavailable, "Try again",
			"The request could not be queued. Retry with the same request_id; it will not be duplicated.")
	}
	outcome := "accepted"
	if replayed {
		outcome = "replayed"
	}
	a.metrics.intake.WithLabelValues(kind, outcome).Inc()
	a.log.Info().Str("kind", kind).Str("outcome", outcome).Str(logging.FieldNOC, c.tenant).Str(logging.FieldOSP, osp).
		Str(logging.FieldECO, ecoID).Str(logging.FieldRequest, requestID).Msg("intake request produced")
	url := "/v1/nocs/" + c.tenant + "/ecos/" + ecoID
	return IntakeResponse{RequestID: requestID, ECOID: ecoID, Status: "accepted", ECOURL: url, Replayed: replayed}, nil
}

func (a *API) linkActive(ctx context.Context, noc, osp string) (bool, error) {
	return tenancy.Store{Pool: a.deps.Pool}.LinkActive(ctx, noc, osp)
}

// checkRequestReason checks the two fields every cancel and control body has: an optional
// request_id (a lower-case UUID) and a reason of at most 500 characters.
func checkRequestReason(requestID, reason string) []FieldError {
	var errs []FieldError
	if requestID != "" && !uuidPattern.MatchString(requestID) {
		errs = append(errs, FieldError{"request_id", "want a lower-case UUID"})
	}
	if len(reason) > 500 {
		errs = append(errs, FieldError{"reason", "at most 500 characters"})
	}
	return errs
}

func (a *API) cancelECO(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	eco := strings.ToLower(r.PathValue("eco"))
	if !uuidPattern.MatchString(eco) {
		return errECONotFound
	}
	var body CancelECOBody
	if p := decodeBody(r, &body, true); p != nil {
		return p
	}
	resp, p := a.cancel(r.Context(), c, eco, body)
	return writeIntake(w, resp, p)
}

// cancel validates a cancel of one of the caller's NOC's ECOs and produces it; the caller has
// authorized the write.
func (a *API) cancel(ctx context.Context, c *reqCtx, eco string, body CancelECOBody) (IntakeResponse, *Problem) {
	eco = strings.ToLower(eco)
	if !uuidPattern.MatchString(eco) {
		return IntakeResponse{}, errECONotFound
	}
	if errs := checkRequestReason(body.RequestID, body.Reason); len(errs) > 0 {
		return IntakeResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid cancel", "", errs...)
	}
	entry, err := projection.LookUp(ctx, a.deps.Pool, KindNOC, c.tenant, eco)
	if errors.Is(err, projection.ErrNotFound) {
		return IntakeResponse{}, errECONotFound
	}
	if err != nil {
		a.log.Error().Err(err).Msg("read ECO for cancel")
		return IntakeResponse{}, errInternal
	}
	osp, status := entry.OSP, entry.Status
	if !Cancellable(status) {
		return IntakeResponse{}, problem(http.StatusConflict, ProbNotCancellable, "ECO cannot be cancelled",
			fmt.Sprintf("The ECO is %s.", status))
	}
	if body.RequestID == "" {
		body.RequestID = uuid.NewString()
	}
	cancel := schemas.ECOCancel{RequestID: body.RequestID, ECOID: eco, NOCTenantID: c.tenant, OSPTenantID: osp,
		RequestedBy: requester(c.id), Reason: body.Reason}
	rec, err := ecorequest.CancelRecord(a.deps.Validator, &cancel, "strike/"+Name, a.cfg.Now())
	if err != nil {
		return IntakeResponse{}, problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid cancel", "", schemaFieldErrors(err.Error())...)
	}
	return a.produceIntake(ctx, c, "cancel", body.RequestID, osp, eco, bodyHash(struct {
		ECO string
		CancelECOBody
	}{eco, body}), rec)
}
