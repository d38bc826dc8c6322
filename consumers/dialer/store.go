package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/schemas"
)

// Store is what the dialer reads from PostgreSQL: rosters, the NOC's Twilio context and link
// status at failover time; and the one thing it writes there, rotation pointers.
type Store interface {
	// Roster is the OSP's roster for region as a ring-down starting at now uses it: contacts
	// in position order (empty if none), the away windows not ended at now, the rotation mode.
	Roster(ctx context.Context, osp, region string, now time.Time) (ringdown.Roster, error)
	// RotationStart is the start position of a new ECO on a rotating roster, decided once per
	// ECO (tenancy.Store.RotationStart).
	RotationStart(ctx context.Context, ecoID, osp, region string, positions []int, now time.Time) (int, error)
	// MoveRotation moves a rotating roster's pointer to position as of at; older moves lose.
	MoveRotation(ctx context.Context, osp, region string, position int, at time.Time) error
	// TwilioContext is the NOC's subaccount SID and caller id.
	TwilioContext(ctx context.Context, noc string) (ringdown.TwilioContext, error)
	// LinkActive reports whether the NOC–OSP link is active.
	LinkActive(ctx context.Context, noc, osp string) (bool, error)
}

// PGStore is the PostgreSQL Store.
type PGStore struct{ Pool *pgxpool.Pool }

// Roster reads the roster through tenancy.Store.
func (s PGStore) Roster(ctx context.Context, osp, region string, now time.Time) (ringdown.Roster, error) {
	r, err := tenancy.Store{Pool: s.Pool}.ActiveRoster(ctx, osp, region, now)
	if err != nil {
		return ringdown.Roster{}, err
	}
	out := ringdown.Roster{Contacts: make([]schemas.Contact, len(r.Contacts))}
	if r.Rotation != tenancy.RotationFixed {
		out.Rotation = r.Rotation
	}
	for i, c := range r.Contacts {
		out.Contacts[i] = schemas.Contact{Position: c.Position, Name: c.Name, Phone: c.Phone}
		for _, a := range c.Away {
			w := ringdown.Away{Position: c.Position, From: a.From, Until: a.Until, Reason: a.Reason}
			if a.Substitute != nil {
				w.Substitute = &schemas.Person{Name: a.Substitute.Name, Phone: a.Substitute.Phone}
			}
			out.Away = append(out.Away, w)
		}
	}
	return out, nil
}

// RotationStart asks tenancy.Store.
func (s PGStore) RotationStart(ctx context.Context, ecoID, osp, region string, positions []int, now time.Time) (int, error) {
	return tenancy.Store{Pool: s.Pool}.RotationStart(ctx, ecoID, osp, region, positions, now)
}

// MoveRotation asks tenancy.Store.
func (s PGStore) MoveRotation(ctx context.Context, osp, region string, position int, at time.Time) error {
	return tenancy.Store{Pool: s.Pool}.MoveRotation(ctx, osp, region, position, at)
}

// TwilioContext reads noc_tenants' Twilio columns; a NOC without them gets empty strings, and
// its calls fail as a caller-id problem (the ring-down ends as credentials, never spins).
func (s PGStore) TwilioContext(ctx context.Context, noc string) (ringdown.TwilioContext, error) {
	var tc ringdown.TwilioContext
	var sub, caller *string
	err := s.Pool.QueryRow(ctx, `SELECT twilio_subaccount_sid, caller_id FROM noc_tenants WHERE id = $1`, noc).Scan(&sub, &caller)
	if errors.Is(err, pgx.ErrNoRows) {
		return tc, nil
	}
	if err != nil {
		return tc, fmt.Errorf("read twilio context of %s: %w", noc, err)
	}
	if sub != nil {
		tc.SubaccountSID = *sub
	}
	if caller != nil {
		tc.CallerID = *caller
	}
	return tc, nil
}

// LinkActive reads the link through tenancy.Store.
func (s PGStore) LinkActive(ctx context.Context, noc, osp string) (bool, error) {
	return tenancy.Store{Pool: s.Pool}.LinkActive(ctx, noc, osp)
}
