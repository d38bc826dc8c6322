package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rotation modes of a roster: where the next ECO's ring-down starts (the pointer is in
// roster_rotation, moved by the dialer through rotation.go).
const (
	// RotationFixed: every ECO starts at the first position.
	RotationFixed = "fixed"
	// RotationAfterAccepted: the next ECO starts after the person who last accepted.
	RotationAfterAccepted = "after_last_accepted"
	// RotationAfterCalled: the next ECO starts after the person who was last called.
	RotationAfterCalled = "after_last_called"
)

// RotationModes lists the rotation modes, for validation messages.
var RotationModes = []string{RotationFixed, RotationAfterAccepted, RotationAfterCalled}

// Reasons a contact is away.
const (
	AwayLeave = "leave"
	AwayOnJob = "on_job"
	AwayOther = "other"
)

// AwayReasons lists the reasons a contact may be away.
var AwayReasons = []string{AwayLeave, AwayOnJob, AwayOther}

// Limits of a roster, so one PUT cannot make a ring-down's state or an ECO's snapshot huge.
const (
	MaxContacts      = 200
	MaxAwayPerPerson = 20
	maxNote          = 200
	maxName          = 200
)

// Away is a window in which a contact is not to be called: From inclusive, Until exclusive.
// With a Substitute, the substitute is called in the contact's place; without one the contact
// is skipped.
type Away struct {
	From, Until time.Time
	Reason      string // AwayReasons
	Note        string
	Substitute  *Person
}

// Person is someone called in a contact's place.
type Person struct {
	Name  string
	Phone string // E.164
}

// Covers reports whether the window covers t.
func (a Away) Covers(t time.Time) bool { return !t.Before(a.From) && t.Before(a.Until) }

// Roster is an OSP region's roster as the OSP manages it.
type Roster struct {
	OSPTenantID, Region, Name string
	Rotation                  string // RotationModes; "" is RotationFixed
	Contacts                  []Contact
	UpdatedAt                 time.Time
	// The rotation pointer (read only): the position the next ECO starts after (0: none yet),
	// and when it last moved.
	LastPosition int
	MovedAt      *time.Time
}

// RosterSummary is one roster of an OSP's list.
type RosterSummary struct {
	Region, Name, Rotation string
	Contacts               int
	UpdatedAt              time.Time
}

// validateRoster says what is wrong with r, or nil.
func validateRoster(r Roster) error {
	where := fmt.Sprintf("roster %s/%s", r.OSPTenantID, r.Region)
	switch {
	case !idPattern.MatchString(r.OSPTenantID):
		return fmt.Errorf("%w OSP id %q: lower-case letters, digits and dashes", ErrInvalid, r.OSPTenantID)
	case !idPattern.MatchString(r.Region):
		return fmt.Errorf("%w region %q: lower-case letters, digits and dashes", ErrInvalid, r.Region)
	case len(r.Name) > maxName:
		return fmt.Errorf("%w %s: name is longer than %d characters", ErrInvalid, where, maxName)
	case !slices.Contains(RotationModes, r.Rotation):
		return fmt.Errorf("%w %s rotation %q: want one of %v", ErrInvalid, where, r.Rotation, RotationModes)
	case len(r.Contacts) > MaxContacts:
		return fmt.Errorf("%w %s: at most %d contacts", ErrInvalid, where, MaxContacts)
	}
	seen := map[int]bool{}
	for _, c := range r.Contacts {
		at := fmt.Sprintf("%s position %d", where, c.Position)
		switch {
		case c.Position < 1 || seen[c.Position]:
			return fmt.Errorf("%w %s: position %d is not unique and positive", ErrInvalid, where, c.Position)
		case c.Name == "" || len(c.Name) > maxName:
			return fmt.Errorf("%w %s: name is required, at most %d characters", ErrInvalid, at, maxName)
		case !e164Pattern.MatchString(c.Phone):
			return fmt.Errorf("%w %s phone %q: want E.164 such as +15550100", ErrInvalid, at, c.Phone)
		case len(c.Away) > MaxAwayPerPerson:
			return fmt.Errorf("%w %s: at most %d away windows", ErrInvalid, at, MaxAwayPerPerson)
		}
		seen[c.Position] = true
		if err := validateAway(at, c); err != nil {
			return err
		}
	}
	return nil
}

func validateAway(at string, c Contact) error {
	ws := slices.Clone(c.Away)
	slices.SortFunc(ws, func(a, b Away) int { return a.From.Compare(b.From) })
	for i, w := range ws {
		wat := fmt.Sprintf("%s away from %s", at, w.From.UTC().Format(time.RFC3339))
		switch {
		case w.From.IsZero() || !w.Until.After(w.From):
			return fmt.Errorf("%w %s: until must be after from", ErrInvalid, wat)
		case !slices.Contains(AwayReasons, w.Reason):
			return fmt.Errorf("%w %s reason %q: want one of %v", ErrInvalid, wat, w.Reason, AwayReasons)
		case len(w.Note) > maxNote:
			return fmt.Errorf("%w %s: note is longer than %d characters", ErrInvalid, wat, maxNote)
		case i > 0 && w.From.Before(ws[i-1].Until):
			return fmt.Errorf("%w %s: overlaps the window from %s", ErrInvalid, wat, ws[i-1].From.UTC().Format(time.RFC3339))
		}
		if s := w.Substitute; s != nil {
			switch {
			case s.Name == "" || len(s.Name) > maxName:
				return fmt.Errorf("%w %s: substitute name is required, at most %d characters", ErrInvalid, wat, maxName)
			case !e164Pattern.MatchString(s.Phone):
				return fmt.Errorf("%w %s substitute phone %q: want E.164 such as +15550100", ErrInvalid, wat, s.Phone)
			case s.Phone == c.Phone:
				return fmt.Errorf("%w %s: the substitute's phone is the contact's own", ErrInvalid, wat)
			}
		}
	}
	return nil
}

// PutRoster creates or replaces an OSP region's roster (name, rotation, contacts and their away
// windows) in one transaction. The rotation pointer is kept.
func (s Store) PutRoster(ctx context.Context, r Roster) error {
	if r.Rotation == "" {
		r.Rotation = RotationFixed
	}
	if err := validateRoster(r); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO rosters (osp_tenant_id, region, name, rotation) VALUES ($1, $2, $3, $4)
			ON CONFLICT (osp_tenant_id, region) DO UPDATE SET name = excluded.name, rotation = excluded.rotation, updated_at = now()`,
			r.OSPTenantID, r.Region, r.Name, r.Rotation); err != nil {
			return wrap("save roster", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM roster_contacts WHERE osp_tenant_id = $1 AND region = $2`, r.OSPTenantID, r.Region); err != nil {
			return wrap("save roster", err)
		}
		var b pgx.Batch
		for _, c := range r.Contacts {
			b.Queue(`INSERT INTO roster_contacts (osp_tenant_id, region, position, name, phone) VALUES ($1, $2, $3, $4, $5)`,
				r.OSPTenantID, r.Region, c.Position, c.Name, c.Phone)
			for _, w := range c.Away {
				var subName, subPhone *string
				if w.Substitute != nil {
					subName, subPhone = &w.Substitute.Name, &w.Substitute.Phone
				}
				b.Queue(`INSERT INTO roster_unavailability (osp_tenant_id, region, position, starts_at, ends_at, reason, note,
					substitute_name, substitute_phone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
					r.OSPTenantID, r.Region, c.Position, w.From, w.Until, w.Reason, w.Note, subName, subPhone)
			}
		}
		return wrap("save roster contacts", tx.SendBatch(ctx, &b).Close())
	})
}

// GetRoster returns an OSP region's roster with every away window (past ones too, until the
// OSP removes them) and the rotation pointer; ErrNotFound if the region has no roster.
func (s Store) GetRoster(ctx context.Context, ospID, region string) (Roster, error) {
	r := Roster{OSPTenantID: ospID, Region: region}
	err := s.Pool.QueryRow(ctx, `SELECT r.name, r.rotation, r.updated_at, coalesce(p.last_position, 0),
			CASE WHEN p.moved_at = '-infinity' THEN NULL ELSE p.moved_at END
		FROM rosters r LEFT JOIN roster_rotation p USING (osp_tenant_id, region)
		WHERE r.osp_tenant_id = $1 AND r.region = $2`, ospID, region).
		Scan(&r.Name, &r.Rotation, &r.UpdatedAt, &r.LastPosition, &r.MovedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("roster %s/%s: %w", ospID, region, ErrNotFound)
	}
	if err != nil {
		return r, wrap("read roster", err)
	}
	r.Contacts, err = s.contacts(ctx, ospID, region, time.Time{})
	return r, err
}

// ActiveRoster is what a ring-down uses: the contacts in call order with the away windows that
// have not ended at now, and the rotation mode. A region without a roster has no contacts.
func (s Store) ActiveRoster(ctx context.Context, ospID, region string, now time.Time) (Roster, error) {
	r := Roster{OSPTenantID: ospID, Region: region, Rotation: RotationFixed}
	err := s.Pool.QueryRow(ctx, `SELECT name, rotation FROM rosters WHERE osp_tenant_id = $1 AND region = $2`,
		ospID, region).Scan(&r.Name, &r.Rotation)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, wrap("read roster", err)
	}
	r.Contacts, err = s.contacts(ctx, ospID, region, now)
	return r, err
}

// contacts reads a roster's contacts in position order with their away windows ending after
// since.
func (s Store) contacts(ctx context.Context, ospID, region string, since time.Time) ([]Contact, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.position, c.name, c.phone, u.starts_at, u.ends_at, u.reason, u.note,
			u.substitute_name, u.substitute_phone
		FROM roster_contacts c
		LEFT JOIN roster_unavailability u ON u.osp_tenant_id = c.osp_tenant_id AND u.region = c.region
			AND u.position = c.position AND u.ends_at > $3
		WHERE c.osp_tenant_id = $1 AND c.region = $2 ORDER BY c.position, u.starts_at`, ospID, region, since)
	if err != nil {
		return nil, wrap("read roster contacts", err)
	}
	defer rows.Close()
	out := []Contact{}
	for rows.Next() {
		var c Contact
		var from, until *time.Time
		var reason, note, subName, subPhone *string
		if err := rows.Scan(&c.Position, &c.Name, &c.Phone, &from, &until, &reason, &note, &subName, &subPhone); err != nil {
			return nil, wrap("read roster contacts", err)
		}
		if n := len(out); n == 0 || out[n-1].Position != c.Position {
			out = append(out, c)
		}
		if from == nil {
			continue
		}
		w := Away{From: *from, Until: *until, Reason: *reason, Note: *note}
		if subName != nil && subPhone != nil {
			w.Substitute = &Person{Name: *subName, Phone: *subPhone}
		}
		last := &out[len(out)-1]
		last.Away = append(last.Away, w)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read roster contacts", err)
	}
	return out, nil
}

// Rosters lists an OSP's rosters by region.
func (s Store) Rosters(ctx context.Context, ospID string) ([]RosterSummary, error) {
	rows, err := s.Pool.Query(ctx, `SELECT r.region, r.name, r.rotation, r.updated_at,
			(SELECT count(*) FROM roster_contacts c WHERE c.osp_tenant_id = r.osp_tenant_id AND c.region = r.region)
		FROM rosters r WHERE r.osp_tenant_id = $1 ORDER BY r.region`, ospID)
	if err != nil {
		return nil, wrap("list rosters", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RosterSummary, error) {
		var r RosterSummary
		err := row.Scan(&r.Region, &r.Name, &r.Rotation, &r.UpdatedAt, &r.Contacts)
		return r, err
	})
	if err != nil {
		return nil, wrap("list rosters", err)
	}
	if out == nil {
		out = []RosterSummary{}
	}
	return out, nil
}

// DeleteRoster removes an OSP region's roster with its contacts, away windows and rotation
// pointer; ErrNotFound if the region has none. Ring-downs that started keep their snapshot; new
// ECOs for the region are rejected (no roster) by the eco-processor.
func (s Store) DeleteRoster(ctx context.Context, ospID, region string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM rosters WHERE osp_tenant_id = $1 AND region = $2`, ospID, region)
	if err != nil {
		return wrap("delete roster", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("roster %s/%s: %w", ospID, region, ErrNotFound)
	}
	return nil
}
