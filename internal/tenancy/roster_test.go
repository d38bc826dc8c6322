package tenancy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
)

func rosterStore(t *testing.T) tenancy.Store {
	t.Helper()
	s := tenancy.Store{Pool: pgtest.New(t).Pool}
	if err := s.UpsertOSP(context.Background(), tenancy.OSP{ID: "osp-a", Name: "A", JobPrefix: "OA"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutRosterRefusesWhatARingDownCouldNotUse(t *testing.T) {
	t.Parallel()
	s := rosterStore(t)
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ada := func(away ...tenancy.Away) tenancy.Roster {
		return tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Contacts: []tenancy.Contact{
			{Position: 1, Name: "Ada", Phone: "+15550100001", Away: away}}}
	}
	leave := func(from, until time.Time) tenancy.Away {
		return tenancy.Away{From: from, Until: until, Reason: tenancy.AwayLeave}
	}
	tests := []struct {
		name   string
		roster tenancy.Roster
		says   string
	}{
		{"unknown rotation", tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Rotation: "round-robin"}, "rotation"},
		{"region not a slug", tenancy.Roster{OSPTenantID: "osp-a", Region: "North"}, "region"},
		{"phone not E.164", tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Contacts: []tenancy.Contact{{Position: 1, Name: "A", Phone: "555-0100"}}}, "E.164"},
		{"position zero", tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Contacts: []tenancy.Contact{{Position: 0, Name: "A", Phone: "+15550100001"}}}, "not unique and positive"},
		{"away ends before it starts", ada(leave(t0, t0.Add(-time.Hour))), "until must be after from"},
		{"away without reason", ada(tenancy.Away{From: t0, Until: t0.Add(time.Hour)}), "reason"},
		{"overlapping windows", ada(leave(t0, t0.Add(2*time.Hour)), leave(t0.Add(time.Hour), t0.Add(3*time.Hour))), "overlaps"},
		{"substitute phone not E.164", ada(tenancy.Away{From: t0, Until: t0.Add(time.Hour), Reason: tenancy.AwayOnJob,
			Substitute: &tenancy.Person{Name: "Bo", Phone: "0800"}}), "substitute phone"},
		{"substitute without name", ada(tenancy.Away{From: t0, Until: t0.Add(time.Hour), Reason: tenancy.AwayOnJob,
			Substitute: &tenancy.Person{Phone: "+15550100009"}}), "substitute name"},
		{"substitute is the contact", ada(tenancy.Away{From: t0, Until: t0.Add(time.Hour), Reason: tenancy.AwayOnJob,
			Substitute: &tenancy.Person{Name: "Ada again", Phone: "+15550100001"}}), "contact's own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutRoster(context.Background(), tt.roster)
			if !errors.Is(err, tenancy.ErrInvalid) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want ErrInvalid saying %q", err, tt.says)
			}
		})
	}
	if err := s.PutRoster(context.Background(), tenancy.Roster{OSPTenantID: "osp-zz", Region: "north"}); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("roster of a missing OSP: %v, want ErrNotFound", err)
	}
}

func TestPutRosterRoundTripsAwayWindowsAndRotation(t *testing.T) {
	t.Parallel()
	s := rosterStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	past := tenancy.Away{From: t0.Add(-48 * time.Hour), Until: t0.Add(-24 * time.Hour), Reason: tenancy.AwayOther, Note: "course"}
	now := tenancy.Away{From: t0.Add(-time.Hour), Until: t0.Add(8 * time.Hour), Reason: tenancy.AwayOnJob, Note: "job 41",
		Substitute: &tenancy.Person{Name: "Bo Sub", Phone: "+15550100009"}}
	r := tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Name: "North", Rotation: tenancy.RotationAfterAccepted,
		Contacts: []tenancy.Contact{
			{Position: 2, Name: "Bea", Phone: "+15550100002"},
			{Position: 1, Name: "Ada", Phone: "+15550100001", Away: []tenancy.Away{now, past}},
		}}
	if err := s.PutRoster(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRoster(ctx, "osp-a", "north")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "North" || got.Rotation != tenancy.RotationAfterAccepted || len(got.Contacts) != 2 ||
		got.Contacts[0].Name != "Ada" || len(got.Contacts[0].Away) != 2 || len(got.Contacts[1].Away) != 0 {
		t.Fatalf("roster %+v: want both contacts in order, Ada with both windows", got)
	}
	if w := got.Contacts[0].Away[1]; !w.From.Equal(now.From) || w.Substitute == nil || w.Substitute.Phone != "+15550100009" || w.Note != "job 41" {
		t.Errorf("Ada's current window %+v, want it back with its substitute", w)
	}
	active, err := s.ActiveRoster(ctx, "osp-a", "north", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(active.Contacts[0].Away) != 1 || active.Contacts[0].Away[0].Substitute == nil {
		t.Errorf("active roster at t0: Ada's windows %+v, want only the one not ended", active.Contacts[0].Away)
	}
	if _, err := s.GetRoster(ctx, "osp-a", "south"); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("a region without a roster: %v, want ErrNotFound", err)
	}
	// A replace keeps nothing of the old contacts' windows.
	if err := s.SetRoster(ctx, "osp-a", "north", "North", []tenancy.Contact{{Position: 1, Name: "Ada", Phone: "+15550100001"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetRoster(ctx, "osp-a", "north")
	if len(got.Contacts) != 1 || len(got.Contacts[0].Away) != 0 || got.Rotation != tenancy.RotationFixed {
		t.Errorf("after a replace: %+v", got)
	}
	list, err := s.Rosters(ctx, "osp-a")
	if err != nil || len(list) != 1 || list[0].Contacts != 1 {
		t.Errorf("rosters list %+v %v", list, err)
	}
}
