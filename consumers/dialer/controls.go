package dialer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/schemas"
)

// Refusal reasons the dialer gives itself, for a control of a ring-down it does not hold.
const (
	refusedNotStarted = "not_started" // no ring-down for this ECO (its eco.created not applied yet, or none)
)

// applyControl applies a control (strike.callout.controls.v1) to the ECO's ring-down in this
// batch, in the order the batch's records came in. A control for a ring-down that ended long
// ago (only its marker is left) or that this replica never started is refused here, with an
// outcome event like the machine's.
func (b *batch) applyControl(r *kgo.Record, now time.Time) error {
	var c schemas.CalloutControl
	if err := b.decode(r, schemas.TypeCalloutControl, &c); err != nil {
		return nil
	}
	log := b.deps.log.With().Str(logging.FieldECO, c.ECOID).Str(logging.FieldNOC, c.NOCTenantID).Str(logging.FieldOSP, c.OSPTenantID).
		Str("control_id", c.ControlID).Str("action", c.Action).Str("actor_kind", c.Actor.Kind).Str("user_id", c.Actor.User.UserID).Logger()
	w := b.state(c.ECOID)
	if w == nil {
		reason, detail := refusedNotStarted, "no callout is running for this ECO"
		if b.deps.states.retired(c.ECOID) {
			reason, detail = schemas.RefusedFinished, "the callout has ended"
		}
		log.Info().Str("reason", reason).Msg("control refused")
		b.outcomeRecord(schemas.ControlOutcome{CalloutRef: schemas.CalloutRef{ECOID: c.ECOID, NOCTenantID: c.NOCTenantID, OSPTenantID: c.OSPTenantID},
			ControlID: c.ControlID, Action: c.Action, Actor: c.Actor, Outcome: schemas.ControlRefused, Reason: reason, Detail: detail,
			DecidedAt: now.UTC()}, now)
		return nil
	}
	out, err := b.machine().ApplyControl(w.st, c, now)
	if err != nil {
		return err
	}
	for _, e := range out.Events {
		if o, ok := e.Value.(schemas.ControlOutcome); ok {
			log.Info().Str("outcome", o.Outcome).Str("reason", o.Reason).Msg("control decided")
		}
	}
	b.collect(w, out)
	return nil
}

// outcomeRecord adds an outcome event decided without a ring-down.
func (b *batch) outcomeRecord(o schemas.ControlOutcome, now time.Time) {
	b.event(o.ECOID, ringdown.Event{Type: schemas.TypeCalloutControlOutcome,
		ID: ids.EventID(schemas.TypeCalloutControlOutcome, o.ECOID, o.ControlID), At: now, Value: o})
}
