package tenancy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/tenancy"
)

func TestAfterWrapsToTheFirstPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		positions []int
		last      int
		want      int
	}{
		{[]int{1, 2, 3}, 0, 1},
		{[]int{1, 2, 3}, 1, 2},
		{[]int{1, 2, 3}, 3, 1},
		{[]int{2, 5, 9}, 5, 9},
		{[]int{2, 5, 9}, 6, 9}, // the pointer's person left the roster: the next one after
		{[]int{2, 5, 9}, 40, 2},
	}
	for _, tt := range tests {
		if got := tenancy.After(tt.positions, tt.last); got != tt.want {
			t.Errorf("After(%v, %d) = %d, want %d", tt.positions, tt.last, got, tt.want)
		}
	}
}

func TestRotationStartsAreDistinctUnderConcurrencyAndDecidedOncePerECO(t *testing.T) {
	t.Parallel()
	s := rosterStore(t)
	ctx := context.Background()
	if err := s.PutRoster(ctx, tenancy.Roster{OSPTenantID: "osp-a", Region: "north", Rotation: tenancy.RotationAfterCalled,
		Contacts: []tenancy.Contact{{Position: 1, Name: "A", Phone: "+15550100001"}, {Position: 2, Name: "B", Phone: "+15550100002"},
			{Position: 3, Name: "C", Phone: "+15550100003"}, {Position: 4, Name: "D", Phone: "+15550100004"}}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ecos := []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002",
		"00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004"}
	starts := make([]int, len(ecos))
	var wg sync.WaitGroup
	for i, eco := range ecos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.RotationStart(ctx, eco, "osp-a", "north", []int{1, 2, 3, 4}, t0)
			if err != nil {
				t.Error(err)
			}
			starts[i] = p
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, p := range starts {
		seen[p] = true
	}
	if len(seen) != 4 {
		t.Fatalf("four ECOs starting at once got starts %v, want each of 1..4 once", starts)
	}
	// Asked again (a redone transaction), an ECO gets its own start and the pointer stays.
	again, err := s.RotationStart(ctx, ecos[2], "osp-a", "north", []int{1, 2, 3, 4}, t0)
	if err != nil || again != starts[2] {
		t.Errorf("start of %s asked again: %d %v, want %d", ecos[2], again, err, starts[2])
	}
	r, _ := s.GetRoster(ctx, "osp-a", "north")
	if r.LastPosition != 4 {
		t.Errorf("pointer at %d after four starts from 0, want 4", r.LastPosition)
	}
	// Moves: a newer one wins, an older one (applied late) is ignored, the same one twice is a no-op.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.MoveRotation(ctx, "osp-a", "north", 2, t0.Add(time.Minute)))
	must(s.MoveRotation(ctx, "osp-a", "north", 3, t0.Add(30*time.Second)))
	must(s.MoveRotation(ctx, "osp-a", "north", 2, t0.Add(time.Minute)))
	r, _ = s.GetRoster(ctx, "osp-a", "north")
	if r.LastPosition != 2 || r.MovedAt == nil || !r.MovedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("pointer %d moved %v, want 2 at t0+1m", r.LastPosition, r.MovedAt)
	}
	next, err := s.RotationStart(ctx, "00000000-0000-4000-8000-000000000005", "osp-a", "north", []int{1, 2, 3, 4}, t0.Add(2*time.Minute))
	if err != nil || next != 3 {
		t.Errorf("the next ECO starts at %d %v, want 3 (after 2, who was moved to last)", next, err)
	}
	// A position not on the roster (an ad-hoc number of one ECO) moves nothing, nor does a
	// move on a region without a roster.
	must(s.MoveRotation(ctx, "osp-a", "north", 9, t0.Add(time.Hour)))
	must(s.MoveRotation(ctx, "osp-a", "nowhere", 1, t0))
	r, _ = s.GetRoster(ctx, "osp-a", "north")
	if r.LastPosition != 3 {
		t.Errorf("pointer at %d after a move to an ad-hoc position, want still 3", r.LastPosition)
	}
}
