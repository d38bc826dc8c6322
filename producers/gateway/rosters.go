package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// The OSP's rosters (DESIGN §1: who, in what order, which region, substitutes belong to the
// OSP). Every member of the OSP reads them; its admins (and system admins) write them. The
// tenant middleware has already answered anyone outside the OSP with the same 403 whether the
// OSP exists or not, so these handlers only ever see their own OSP's rows.

// RosterBody is a roster as written (PUT) and, with the read-only fields, as read.
type RosterBody struct {
	Name string `json:"name"`
	// Rotation is fixed (default), after_last_accepted or after_last_called.
	Rotation string        `json:"rotation,omitempty"`
	Contacts []ContactBody `json:"contacts"`
}

// ContactBody is one person on a roster.
type ContactBody struct {
	Position int    `json:"position"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	// Unavailable are the windows in which the person is not called (or their substitute is).
	Unavailable []AwayBody `json:"unavailable,omitempty"`
}

// AwayBody is a window in which a contact is away: from inclusive, until exclusive, RFC 3339
// times.
type AwayBody struct {
	From       string      `json:"from"`
	Until      string      `json:"until"`
	Reason     string      `json:"reason"` // leave, on_job, other
	Note       string      `json:"note,omitempty"`
	Substitute *PersonBody `json:"substitute,omitempty"`
}

// PersonBody names a substitute.
type PersonBody struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// RosterView is a roster as the API shows it.
type RosterView struct {
	OSPTenantID string `json:"osp_tenant_id"`
	Region      string `json:"region"`
	Name        string `json:"name"`
	Rotation    string `json:"rotation"`
	// RotationPointer is where a rotating roster's next ECO starts after; absent before the
	// first ECO moved it.
	RotationPointer *RotationPointer `json:"rotation_pointer,omitempty"`
	Contacts        []ContactView    `json:"contacts"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

// RotationPointer is a roster's rotation pointer.
type RotationPointer struct {
	LastPosition int       `json:"last_position"`
	MovedAt      time.Time `json:"moved_at"`
}

// ContactView is a contact with whether they are away now.
type ContactView struct {
	ContactBody
	// AwayNow is the window covering the time of the request, if any.
	AwayNow *AwayBody `json:"away_now,omitempty"`
}

// RosterSummaryView is one entry of the roster list.
type RosterSummaryView struct {
	Region    string    `json:"region"`
	Name      string    `json:"name"`
	Rotation  string    `json:"rotation"`
	Contacts  int       `json:"contacts"`
	UpdatedAt time.Time `json:"updated_at"`
	URL       string    `json:"url"`
}

// roster turns the body into the tenancy roster; times that are not RFC 3339 are a problem
// naming the field.
func (b RosterBody) roster(osp, region string) (tenancy.Roster, *Problem) {
	r := tenancy.Roster{OSPTenantID: osp, Region: region, Name: b.Name, Rotation: b.Rotation,
		Contacts: make([]tenancy.Contact, len(b.Contacts))}
	for i, c := range b.Contacts {
		tc := tenancy.Contact{Position: c.Position, Name: c.Name, Phone: c.Phone}
		for j, w := range c.Unavailable {
			var times [2]time.Time
			for k, v := range []string{w.From, w.Until} {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					field := fmt.Sprintf("contacts/%d/unavailable/%d/%s", i, j, [2]string{"from", "until"}[k])
					return r, problem(http.StatusBadRequest, ProbValidation, "Invalid body", field+": want an RFC 3339 time",
						FieldError{field, "want an RFC 3339 time such as 2026-12-01T08:00:00Z"})
				}
				times[k] = t
			}
			a := tenancy.Away{From: times[0], Until: times[1], Reason: w.Reason, Note: w.Note}
			if w.Substitute != nil {
				a.Substitute = &tenancy.Person{Name: w.Substitute.Name, Phone: w.Substitute.Phone}
			}
			tc.Away = append(tc.Away, a)
		}
		r.Contacts[i] = tc
	}
	return r, nil
}

func awayBody(w tenancy.Away) AwayBody {
	b := AwayBody{From: w.From.UTC().Format(time.RFC3339), Until: w.Until.UTC().Format(time.RFC3339), Reason: w.Reason, Note: w.Note}
	if w.Substitute != nil {
		b.Substitute = &PersonBody{Name: w.Substitute.Name, Phone: w.Substitute.Phone}
	}
	return b
}

func rosterView(r tenancy.Roster, now time.Time) RosterView {
	v := RosterView{OSPTenantID: r.OSPTenantID, Region: r.Region, Name: r.Name, Rotation: r.Rotation,
		Contacts: make([]ContactView, len(r.Contacts)), UpdatedAt: r.UpdatedAt.UTC()}
	if r.MovedAt != nil {
		v.RotationPointer = &RotationPointer{LastPosition: r.LastPosition, MovedAt: r.MovedAt.UTC()}
	}
	for i, c := range r.Contacts {
		cv := ContactView{ContactBody: ContactBody{Position: c.Position, Name: c.Name, Phone: c.Phone}}
		for _, w := range c.Away {
			b := awayBody(w)
			cv.Unavailable = append(cv.Unavailable, b)
			if w.Covers(now) {
				cv.AwayNow = &b
			}
		}
		v.Contacts[i] = cv
	}
	return v
}

func (a *API) listRosters(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	items, p := a.rosters(r.Context(), c.tenant)
	if p != nil {
		return p
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// rosters lists the OSP's rosters; the caller has authorized.
func (a *API) rosters(ctx context.Context, osp string) ([]RosterSummaryView, *Problem) {
	var list []tenancy.RosterSummary
	err := a.ospRosters(ctx, osp, false, func(s tenancy.Store) (err error) {
		list, err = s.Rosters(ctx, osp)
		return err
	})
	if err != nil {
		a.log.Error().Err(err).Str(logging.FieldOSP, osp).Msg("list rosters")
		return nil, errInternal
	}
	items := make([]RosterSummaryView, len(list))
	for i, s := range list {
		items[i] = RosterSummaryView{Region: s.Region, Name: s.Name, Rotation: s.Rotation, Contacts: s.Contacts,
			UpdatedAt: s.UpdatedAt.UTC(), URL: "/v1/osps/" + osp + "/rosters/" + s.Region}
	}
	return items, nil
}

var errNoRoster = problem(http.StatusNotFound, ProbNotFound, "No such roster",
	"This OSP has no roster for that region; PUT one to create it.")

func (a *API) getRoster(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	v, p := a.roster(r.Context(), c.tenant, r.PathValue("region"))
	if p != nil {
		return p
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// roster reads one of the OSP's rosters; the caller has authorized.
func (a *API) roster(ctx context.Context, osp, region string) (RosterView, *Problem) {
	var ros tenancy.Roster
	err := a.ospRosters(ctx, osp, false, func(s tenancy.Store) (err error) {
		ros, err = s.GetRoster(ctx, osp, region)
		return err
	})
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return RosterView{}, errNoRoster
	case err != nil:
		a.log.Error().Err(err).Str(logging.FieldOSP, osp).Msg("read roster")
		return RosterView{}, errInternal
	}
	return rosterView(ros, a.cfg.Now()), nil
}

// putRoster replaces the region's roster and answers with it as stored.
func (a *API) putRoster(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	var b RosterBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	if p := a.putRosterBody(r.Context(), c, r.PathValue("region"), b); p != nil {
		return p
	}
	return a.getRoster(w, r, c)
}

// putRosterBody validates and stores a roster; the caller has authorized the edit.
func (a *API) putRosterBody(ctx context.Context, c *reqCtx, region string, b RosterBody) *Problem {
	ros, p := b.roster(c.tenant, region)
	if p != nil {
		return p
	}
	if err := a.ospRosters(ctx, c.tenant, true, func(s tenancy.Store) error { return s.PutRoster(ctx, ros) }); err != nil {
		return a.tenancyProblem(err)
	}
	a.log.Info().Str(logging.FieldOSP, c.tenant).Str("user_id", c.id.UserID).Str("region", region).
		Int("contacts", len(b.Contacts)).Msg("roster saved")
	return nil
}

// deleteRoster removes the region's roster: 204, or 404 if there is none.
func (a *API) deleteRoster(w http.ResponseWriter, r *http.Request, c *reqCtx) *Problem {
	region := r.PathValue("region")
	err := a.ospRosters(r.Context(), c.tenant, true, func(s tenancy.Store) error {
		return s.DeleteRoster(r.Context(), c.tenant, region)
	})
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return errNoRoster
	case err != nil:
		a.log.Error().Err(err).Str(logging.FieldOSP, c.tenant).Msg("delete roster")
		return errInternal
	}
	a.log.Info().Str(logging.FieldOSP, c.tenant).Str("user_id", c.id.UserID).Str("region", region).Msg("roster deleted")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
