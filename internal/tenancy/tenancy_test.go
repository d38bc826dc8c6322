package tenancy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
)

func TestWritesValidateTheirInputAndSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	s := tenancy.Store{Pool: pgtest.New(t).Pool}
	ctx := context.Background()
	if err := s.UpsertNOC(ctx, tenancy.NOC{ID: "noc-a", Name: "A", Code: "NOCA"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertOSP(ctx, tenancy.OSP{ID: "osp-a", Name: "A", JobPrefix: "OA"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		write   func() error
		wantErr error
		says    string
	}{
		{"NOC id with capitals", func() error { return s.UpsertNOC(ctx, tenancy.NOC{ID: "NOC", Name: "x", Code: "X"}) }, tenancy.ErrInvalid, "lower-case"},
		{"NOC code too long", func() error {
			return s.UpsertNOC(ctx, tenancy.NOC{ID: "noc-b", Name: "x", Code: "ABCDEFGHIJKLM"})
		}, tenancy.ErrInvalid, "1 to 12"},
		{"subaccount SID not a SID", func() error {
			return s.UpsertNOC(ctx, tenancy.NOC{ID: "noc-b", Name: "x", Code: "B", TwilioSubaccountSID: "AC123"})
		}, tenancy.ErrInvalid, "32 hex"},
		{"caller id not E.164", func() error {
			return s.UpsertNOC(ctx, tenancy.NOC{ID: "noc-b", Name: "x", Code: "B", CallerID: "555-0100"})
		}, tenancy.ErrInvalid, "E.164"},
		{"invalid job template refused when saved", func() error {
			return s.UpsertOSP(ctx, tenancy.OSP{ID: "osp-b", Name: "x", JobPrefix: "B", JobTemplate: "{prefix}-{year}"})
		}, tenancy.ErrInvalid, "must contain {num}"},
		{"unknown link status", func() error {
			return s.UpsertLink(ctx, tenancy.Link{NOCTenantID: "noc-a", OSPTenantID: "osp-a", Status: "paused"})
		}, tenancy.ErrInvalid, "active, suspended or removed"},
		{"link to a missing OSP", func() error {
			return s.UpsertLink(ctx, tenancy.Link{NOCTenantID: "noc-a", OSPTenantID: "osp-zz", Status: tenancy.LinkActive})
		}, tenancy.ErrNotFound, "osp-zz"},
		{"roster phone not E.164", func() error {
			return s.SetRoster(ctx, "osp-a", "north", "", []tenancy.Contact{{Position: 1, Name: "A", Phone: "0800"}})
		}, tenancy.ErrInvalid, "E.164"},
		{"roster positions repeat", func() error {
			return s.SetRoster(ctx, "osp-a", "north", "", []tenancy.Contact{{Position: 1, Name: "A", Phone: "+15550100001"}, {Position: 1, Name: "B", Phone: "+15550100002"}})
		}, tenancy.ErrInvalid, "not unique"},
		{"policy loop count out of range", func() error {
			return s.UpsertPolicy(ctx, tenancy.Policy{NOCTenantID: "noc-a", LoopCount: 0, RetryAfterSeconds: 60})
		}, tenancy.ErrInvalid, "loop_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want %v saying %q", err, tt.wantErr, tt.says)
			}
		})
	}
}

func TestSetRosterReplacesTheRegionInCallOrder(t *testing.T) {
	t.Parallel()
	s := tenancy.Store{Pool: pgtest.New(t).Pool}
	ctx := context.Background()
	if err := s.UpsertOSP(ctx, tenancy.OSP{ID: "osp-a", Name: "A", JobPrefix: "OA"}); err != nil {
		t.Fatal(err)
	}
	first := []tenancy.Contact{{Position: 2, Name: "B", Phone: "+15550100002"}, {Position: 1, Name: "A", Phone: "+15550100001"}}
	if err := s.SetRoster(ctx, "osp-a", "north", "", first); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoster(ctx, "osp-a", "north", "", []tenancy.Contact{{Position: 1, Name: "C", Phone: "+15550100003"}}); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRoster(ctx, "osp-a", "north")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Contacts; len(got) != 1 || got[0].Name != "C" {
		t.Errorf("roster %+v, want only C: a new roster replaces the old one", got)
	}
}
