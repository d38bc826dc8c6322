package dialer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/schemas"
)

// Store is what the dialer reads from PostgreSQL: rosters, the NOC's Twilio context and link
// status at failover time.
type Store interface {
	// Roster is the OSP's contacts for region in call order (empty if none).
	Roster(ctx context.Context, osp, region string) ([]schemas.Contact, error)
	// TwilioContext is the NOC's subaccount SID and caller id.
	TwilioContext(ctx context.Context, noc string) (ringdown.TwilioContext, error)
	// LinkActive reports whether the NOC–OSP link is active.
	LinkActive(ctx context.Context, noc, osp string) (bool, error)
}

// PGStore is the PostgreSQL Store.
type PGStore struct{ Pool *pgxpool.Pool }

// Roster reads the roster through tenancy.Store.
func (s PGStore) Roster(ctx context.Context, osp, region string) ([]schemas.Contact, error) {
	cs, err := tenancy.Store{Pool: s.Pool}.Roster(ctx, osp, region)
	if err != nil {
		return nil, err
	}
	out := make([]schemas.Contact, len(cs))
	for i, c := range cs {
		out[i] = schemas.Contact{Position: c.Position, Name: c.Name, Phone: c.Phone}
	}
	return out, nil
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

// LinkActive reads noc_osp_links.status.
func (s PGStore) LinkActive(ctx context.Context, noc, osp string) (bool, error) {
	var status string
	err := s.Pool.QueryRow(ctx, `SELECT status FROM noc_osp_links WHERE noc_tenant_id = $1 AND osp_tenant_id = $2`, noc, osp).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read link %s/%s: %w", noc, osp, err)
	}
	return status == tenancy.LinkActive, nil
}
