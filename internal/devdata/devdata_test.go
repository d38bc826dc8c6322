package devdata_test

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// A dev user (Acme's admin or agent) finds a roster with someone away now and their substitute,
// and a rotating roster; the rosters the demo script and the tests ring stay as they were.
func TestTheDemoShowsAwayWindowsAndRotation(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := tenancy.Store{Pool: db.Pool}
	for range 2 { // seeding twice changes nothing
		if err := devdata.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	away, err := s.GetRoster(ctx, devdata.OSPAcme, devdata.RegionSouth)
	if err != nil {
		t.Fatal(err)
	}
	var covered []tenancy.Away
	for _, c := range away.Contacts {
		for _, w := range c.Away {
			if w.Covers(now) && w.Substitute != nil {
				covered = append(covered, w)
			}
		}
	}
	if len(covered) != 1 {
		t.Errorf("Acme %s: %d people away now with a substitute, want 1: %+v", devdata.RegionSouth, len(covered), away)
	}
	rot, err := s.GetRoster(ctx, devdata.OSPAcme, devdata.RegionHarbor)
	if err != nil || rot.Rotation != tenancy.RotationAfterAccepted {
		t.Errorf("Acme %s: rotation %q (%v), want %s", devdata.RegionHarbor, rot.Rotation, err, tenancy.RotationAfterAccepted)
	}
	metro, err := s.GetRoster(ctx, devdata.OSPAcme, devdata.RegionMetro)
	if err != nil || metro.Rotation != tenancy.RotationFixed || len(metro.Contacts) != 3 {
		t.Fatalf("Acme %s: %+v, %v", devdata.RegionMetro, metro, err)
	}
	for _, c := range metro.Contacts {
		if len(c.Away) != 0 {
			t.Errorf("Acme %s: %s is away; the demo script and the tests ring this roster as it is", devdata.RegionMetro, c.Name)
		}
	}
}
