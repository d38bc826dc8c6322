package dialer

import (
	"time"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/schemas"
)

// Rotation (issue 13): a rotating roster's pointer lives in PostgreSQL (roster_rotation, through
// tenancy.Store), not in this dialer's partition state: ECOs are partitioned by ECO id, so the
// ECOs of one roster are on every partition and replica (docs/decisions.md). The start of each
// ECO is decided once in PostgreSQL under the pointer row's lock, so two ECOs starting at once,
// on one replica or two, get consecutive starts; the start is then part of the ring-down's
// state, so a restart or a new owner continues from it.

// startOf gives a new ECO on a rotating roster its start position. A redone batch gets the
// start the ECO already had.
func (b *batch) startOf(ev schemas.ECOCreated, r ringdown.Roster) (ringdown.Roster, error) {
	if r.Rotation == "" || len(r.Contacts) == 0 {
		return r, nil
	}
	positions := make([]int, len(r.Contacts))
	for i, c := range r.Contacts {
		positions[i] = c.Position
	}
	start, err := b.deps.store.RotationStart(b.ctx, ev.ECOID, ev.OSPTenantID, ev.Region, positions, b.deps.now())
	if err != nil {
		return r, err
	}
	r.StartPosition = start
	return r, nil
}

// rotationMove is one pointer move: someone at position was called, or accepted.
type rotationMove struct {
	osp, region string
	position    int
	at          time.Time
}

// rotationMoves records the pointer moves a machine output implies: a call placed (rotation
// after_last_called) or an acceptance that counts (after_last_accepted). A substitute moves
// the pointer to the position they stood in for.
func (b *batch) rotationMoves(st *ringdown.State, events []ringdown.Event) {
	if st.Rotation == "" {
		return
	}
	for _, e := range events {
		pos := 0
		switch v := e.Value.(type) {
		case schemas.CallPlaced:
			if st.Rotation == tenancy.RotationAfterCalled {
				pos = v.Contact.Position
			}
		case schemas.CalloutAccepted:
			if st.Rotation == tenancy.RotationAfterAccepted && !v.Late {
				pos = v.Contact.Position
			}
		}
		if pos > 0 {
			b.moves = append(b.moves, rotationMove{osp: st.ECO.OSPTenantID, region: st.ECO.Region, position: pos, at: e.At})
		}
	}
}

// moveRotations writes the batch's pointer moves before its transaction commits. A move is
// idempotent and never takes a pointer back (tenancy.Store.MoveRotation), so a batch that
// aborts and is redone, or one a zombie wrote before being fenced, moves nothing wrongly: the
// same callbacks decide the same moves.
func (b *batch) moveRotations() error {
	for _, m := range b.moves {
		if err := b.deps.store.MoveRotation(b.ctx, m.osp, m.region, m.position, m.at); err != nil {
			return err
		}
	}
	return nil
}
