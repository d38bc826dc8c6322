package renderpoller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/secrets"
)

// DefaultPollInterval is an instance's polling interval when none is given.
const DefaultPollInterval = 15 * time.Second

// Bounds of an instance's polling interval (the table's CHECK mirrors them).
const (
	MinPollInterval = 100 * time.Millisecond
	MaxPollInterval = time.Hour
)

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// InstanceSpec describes an OSP's Render instance for Admin.Add and Admin.Upsert.
type InstanceSpec struct {
	ID           string // slug, unique across OSPs, e.g. "acme-main"; fixed once created
	OSPTenantID  string
	BaseURL      string
	ClientID     string
	PollInterval time.Duration // 0: DefaultPollInterval
	Region       string        // "": the OSP's default instance
	Disabled     bool
}

// Instance is a stored instance as `strike admin render list` shows it. It has no secret, only
// the id of the key that seals it.
type Instance struct {
	ID           string        `json:"id"`
	OSPTenantID  string        `json:"osp_tenant_id"`
	BaseURL      string        `json:"base_url"`
	ClientID     string        `json:"client_id"`
	PollInterval time.Duration `json:"poll_interval"`
	Region       string        `json:"region"`
	Enabled      bool          `json:"enabled"`
	SecretKeyID  string        `json:"secret_key_id"`
	Owner        string        `json:"owner,omitempty"`
	LeaseUntil   *time.Time    `json:"lease_until,omitempty"`
	LastPollAt   *time.Time    `json:"last_poll_at,omitempty"`
	LastResult   string        `json:"last_result,omitempty"`
	LastError    string        `json:"last_error,omitempty"`
	Failures     int           `json:"failures"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// InstanceUpdate changes the fields that are set; nil fields stay as they are.
type InstanceUpdate struct {
	BaseURL      *string
	ClientID     *string
	Secret       *secrets.Secret
	PollInterval *time.Duration
	Region       *string
	Enabled      *bool
}

// Admin adds, lists, changes and removes Render instances and re-seals their secrets. It backs
// `strike admin render …`; secrets are sealed with Keyring under
// RenderSecretAAD(osp, id, base URL, client id).
type Admin struct {
	Pool    *pgxpool.Pool
	Keyring *secrets.Keyring
}

func (s InstanceSpec) validate(secret secrets.Secret) error {
	var errs []error
	if !slugPattern.MatchString(s.ID) {
		errs = append(errs, fmt.Errorf("instance id %q: want lower-case letters, digits and dashes, at most 63", s.ID))
	}
	if !slugPattern.MatchString(s.OSPTenantID) {
		errs = append(errs, fmt.Errorf("osp tenant id %q: want lower-case letters, digits and dashes", s.OSPTenantID))
	}
	if s.Region != "" && !slugPattern.MatchString(s.Region) {
		errs = append(errs, fmt.Errorf("region %q: want lower-case letters, digits and dashes", s.Region))
	}
	if s.PollInterval != 0 && (s.PollInterval < MinPollInterval || s.PollInterval > MaxPollInterval) {
		errs = append(errs, fmt.Errorf("poll interval %s: want %s to %s", s.PollInterval, MinPollInterval, MaxPollInterval))
	}
	// The adapter's own rules for the URL, client id and secret; its errors never quote the secret.
	if _, err := render.New(render.InstanceConfig{BaseURL: s.BaseURL, ClientID: s.ClientID, ClientSecret: secret}, nil, zerolog.Nop()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Add stores a new instance with its secret sealed under the newest key. An id that exists is
// ErrExists, as is a second instance for the same OSP and region.
func (a Admin) Add(ctx context.Context, spec InstanceSpec, secret secrets.Secret) error {
	_, err := a.write(ctx, spec, secret, false)
	return err
}

// Upsert adds the instance or brings an existing one with the same id to spec and secret; it
// is what `strike dev` uses to register the simulator's instances on every start. changed
// reports whether anything was written.
func (a Admin) Upsert(ctx context.Context, spec InstanceSpec, secret secrets.Secret) (changed bool, err error) {
	return a.write(ctx, spec, secret, true)
}

func (a Admin) write(ctx context.Context, spec InstanceSpec, secret secrets.Secret, upsert bool) (bool, error) {
	if err := spec.validate(secret); err != nil {
		return false, err
	}
	spec.PollInterval = cmp.Or(spec.PollInterval, DefaultPollInterval)
	changed := false
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		var cur struct {
			osp, url, client, sealed, region string
			ms                               int64
			enabled                          bool
		}
		err := tx.QueryRow(ctx, `SELECT osp_tenant_id, base_url, client_id, client_secret_sealed, poll_interval_ms, region, enabled
			FROM render_instances WHERE id = $1 FOR UPDATE`, spec.ID).
			Scan(&cur.osp, &cur.url, &cur.client, &cur.sealed, &cur.ms, &cur.region, &cur.enabled)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read instance: %w", err)
		}
		if exists && !upsert {
			return fmt.Errorf("instance %q: %w", spec.ID, ErrExists)
		}
		if exists && cur.osp != spec.OSPTenantID {
			return fmt.Errorf("%w: instance %q belongs to another OSP; ids are not reused across OSPs", ErrInvalid, spec.ID)
		}
		aad := secrets.RenderSecretAAD(spec.OSPTenantID, spec.ID, spec.BaseURL, spec.ClientID)
		if exists {
			old, err := a.Keyring.Open(cur.sealed, aad)
			if err == nil && old.Reveal() == secret.Reveal() && cur.url == spec.BaseURL && cur.client == spec.ClientID &&
				cur.ms == spec.PollInterval.Milliseconds() && cur.region == spec.Region && cur.enabled == !spec.Disabled {
				return nil // already as asked
			}
		}
		sealed, err := a.Keyring.Seal(secret, aad)
		if err != nil {
			return fmt.Errorf("seal secret: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO render_instances
				(id, osp_tenant_id, base_url, client_id, client_secret_sealed, poll_interval_ms, region, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET base_url = excluded.base_url, client_id = excluded.client_id,
				client_secret_sealed = excluded.client_secret_sealed, poll_interval_ms = excluded.poll_interval_ms,
				region = excluded.region, enabled = excluded.enabled, updated_at = now()`,
			spec.ID, spec.OSPTenantID, spec.BaseURL, spec.ClientID, sealed, spec.PollInterval.Milliseconds(), spec.Region, !spec.Disabled); err != nil {
			return pgError("store instance", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO render_poll_state (instance_id) VALUES ($1) ON CONFLICT DO NOTHING`, spec.ID); err != nil {
			return fmt.Errorf("store poll state: %w", err)
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

// Update changes an instance. A new base URL or client id needs the secret again (it is sealed
// bound to both), and keeps the cursor: if it is not
// valid for the new address, the poller gets invalid_cursor and restarts the feed (events keep
// their ids, so consumers drop the repeats). The updated_at bump makes pollers rebuild the client.
func (a Admin) Update(ctx context.Context, id string, u InstanceUpdate) error {
	return pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		var (
			spec   InstanceSpec
			sealed string
			ms     int64
			en     bool
		)
		err := tx.QueryRow(ctx, `SELECT id, osp_tenant_id, base_url, client_id, client_secret_sealed, poll_interval_ms, region, enabled
			FROM render_instances WHERE id = $1 FOR UPDATE`, id).
			Scan(&spec.ID, &spec.OSPTenantID, &spec.BaseURL, &spec.ClientID, &sealed, &ms, &spec.Region, &en)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("instance %q: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read instance: %w", err)
		}
		spec.PollInterval = time.Duration(ms) * time.Millisecond
		spec.Disabled = !en
		if (u.BaseURL != nil && *u.BaseURL != spec.BaseURL || u.ClientID != nil && *u.ClientID != spec.ClientID) && u.Secret == nil {
			return fmt.Errorf("%w: changing the base URL or client id needs the client secret again (--secret): the sealed secret is bound to both, so it is never sent to an address it was not given for", ErrInvalid)
		}
		if u.BaseURL != nil {
			spec.BaseURL = *u.BaseURL
		}
		if u.ClientID != nil {
			spec.ClientID = *u.ClientID
		}
		if u.PollInterval != nil {
			spec.PollInterval = *u.PollInterval
		}
		if u.Region != nil {
			spec.Region = *u.Region
		}
		if u.Enabled != nil {
			spec.Disabled = !*u.Enabled
		}
		aad := secrets.RenderSecretAAD(spec.OSPTenantID, spec.ID, spec.BaseURL, spec.ClientID)
		// Validation needs a non-empty secret; the stored one stands in when it is not changed.
		check := secrets.Secret("unchanged")
		if u.Secret != nil {
			check = *u.Secret
			if sealed, err = a.Keyring.Seal(*u.Secret, aad); err != nil {
				return fmt.Errorf("seal secret: %w", err)
			}
		}
		if err := spec.validate(check); err != nil {
			return err
		}
		if spec.PollInterval == 0 {
			spec.PollInterval = DefaultPollInterval
		}
		_, err = tx.Exec(ctx, `UPDATE render_instances SET base_url = $2, client_id = $3, client_secret_sealed = $4,
				poll_interval_ms = $5, region = $6, enabled = $7, updated_at = now() WHERE id = $1`,
			id, spec.BaseURL, spec.ClientID, sealed, spec.PollInterval.Milliseconds(), spec.Region, !spec.Disabled)
		if err != nil {
			return pgError("update instance", err)
		}
		return nil
	})
}

// Remove deletes an instance and its cursor. ECOs already dispatched keep their Render job id.
func (a Admin) Remove(ctx context.Context, id string) error {
	tag, err := a.Pool.Exec(ctx, `DELETE FROM render_instances WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove instance: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("instance %q: %w", id, ErrNotFound)
	}
	return nil
}

// List returns the instances of one OSP, or of every OSP when ospTenantID is "", with their
// polling state.
func (a Admin) List(ctx context.Context, ospTenantID string) ([]Instance, error) {
	rows, err := a.Pool.Query(ctx, `SELECT i.id, i.osp_tenant_id, i.base_url, i.client_id, i.client_secret_sealed,
			i.poll_interval_ms, i.region, i.enabled, i.updated_at,
			coalesce(s.owner, ''), CASE WHEN s.lease_until > now() THEN s.lease_until END, s.last_poll_at,
			coalesce(s.last_result, ''), coalesce(s.last_error, ''), coalesce(s.failures, 0)
		FROM render_instances i LEFT JOIN render_poll_state s ON s.instance_id = i.id
		WHERE $1 = '' OR i.osp_tenant_id = $1 ORDER BY i.osp_tenant_id, i.id`, ospTenantID)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Instance, error) {
		var (
			in     Instance
			sealed string
			ms     int64
		)
		err := r.Scan(&in.ID, &in.OSPTenantID, &in.BaseURL, &in.ClientID, &sealed, &ms, &in.Region, &in.Enabled, &in.UpdatedAt,
			&in.Owner, &in.LeaseUntil, &in.LastPollAt, &in.LastResult, &in.LastError, &in.Failures)
		in.PollInterval = time.Duration(ms) * time.Millisecond
		if s, perr := secrets.ParseSealed(sealed); perr == nil {
			in.SecretKeyID = s.KeyID
		}
		return in, err
	})
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// RotateReport counts what RotateKeys did.
type RotateReport struct {
	Total   int `json:"total"`
	Rotated int `json:"rotated"`
	Current int `json:"current"` // already sealed under the newest key
	// Rebound counts secrets sealed before the base URL and client id binding (v1) that were
	// sealed again under RenderSecretAAD, bound to the URL and client id stored at that moment;
	// they are counted in Rotated too.
	Rebound int `json:"rebound"`
	Failed  int `json:"failed"`
	// Failures name the instances that could not be opened and why (never the secret).
	Failures []string `json:"failures,omitempty"`
}

// RotateKeys re-seals every stored secret under the keyring's newest key, in one transaction.
// A secret that does not open (a key missing from STRIKE_SECRET_KEYS, a row copied from
// elsewhere) is counted and named in Failures and left untouched; the others are rotated.
func (a Admin) RotateKeys(ctx context.Context) (RotateReport, error) {
	var rep RotateReport
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		rep = RotateReport{}
		rows, err := tx.Query(ctx, `SELECT id, osp_tenant_id, base_url, client_id, client_secret_sealed
			FROM render_instances ORDER BY id FOR UPDATE`)
		if err != nil {
			return fmt.Errorf("read secrets: %w", err)
		}
		type row struct{ id, osp, url, client, sealed string }
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.osp, &x.url, &x.client, &x.sealed)
		})
		if err != nil {
			return fmt.Errorf("read secrets: %w", err)
		}
		for _, r := range all {
			rep.Total++
			aad := secrets.RenderSecretAAD(r.osp, r.id, r.url, r.client)
			out, rotated, err := a.Keyring.RotateStored(r.sealed, aad)
			if errors.Is(err, secrets.ErrDecrypt) {
				// Sealed before the binding (v1)? Seal it again, bound to today's URL and client id.
				if old, lerr := a.Keyring.Open(r.sealed, secrets.RenderSecretAADv1(r.osp, r.id)); lerr == nil {
					out, err = a.Keyring.Seal(old, aad)
					rotated = err == nil
					if rotated {
						rep.Rebound++
					}
				}
			}
			switch {
			case err != nil:
				rep.Failed++
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s (%s): %v", r.id, r.osp, err))
			case !rotated:
				rep.Current++
			default:
				if _, err := tx.Exec(ctx, `UPDATE render_instances SET client_secret_sealed = $2 WHERE id = $1`, r.id, out); err != nil {
					return fmt.Errorf("write rotated secret of %s: %w", r.id, err)
				}
				rep.Rotated++
			}
		}
		return nil
	})
	return rep, err
}
