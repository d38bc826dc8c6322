// Package devdata seeds the demo tenants that `strike dev` and the end-to-end tests use. Seeding
// is idempotent: running it again changes nothing that is already there (job counters and
// allocations are never touched).
package devdata

import (
	"context"

	"github.com/osprey-strike/strike/internal/tenancy"
)

// Demo tenant ids, for tests and the docs' example commands.
const (
	NOCNorthwind = "noc-northwind" // single-OSP-default NOC, failover to Bolt
	NOCHarbor    = "noc-harbor"    // its link to Cedar is suspended
	OSPAcme      = "osp-acme"
	OSPBolt      = "osp-bolt"
	OSPCedar     = "osp-cedar"
	RegionMetro  = "metro-north"
	RegionCoast  = "coast"
)

// NOCs, OSPs, links, rosters and policies of the demo world.
var (
	NOCs = []tenancy.NOC{
		{ID: NOCNorthwind, Name: "Northwind Networks NOC", Code: "NWND",
			TwilioSubaccountSID: "AC00000000000000000000000000000a01", CallerID: "+15550100001"},
		{ID: NOCHarbor, Name: "Harbor Telecom NOC", Code: "HRBR",
			TwilioSubaccountSID: "AC00000000000000000000000000000a02", CallerID: "+15550100002"},
	}
	OSPs = []tenancy.OSP{
		{ID: OSPAcme, Name: "Acme Outside Plant", JobPrefix: "ACME"},
		{ID: OSPBolt, Name: "Bolt Field Services", JobPrefix: "BOLT", JobTemplate: "{prefix}{year}-{num:6}"},
		{ID: OSPCedar, Name: "Cedar Line Works", JobPrefix: "CEDR"},
	}
	Links = []tenancy.Link{
		{NOCTenantID: NOCNorthwind, OSPTenantID: OSPAcme, Status: tenancy.LinkActive, IsDefault: true},
		{NOCTenantID: NOCNorthwind, OSPTenantID: OSPBolt, Status: tenancy.LinkActive},
		{NOCTenantID: NOCHarbor, OSPTenantID: OSPAcme, Status: tenancy.LinkActive, IsDefault: true},
		{NOCTenantID: NOCHarbor, OSPTenantID: OSPCedar, Status: tenancy.LinkSuspended},
	}
	Rosters = []struct {
		OSP, Region, Name string
		Contacts          []tenancy.Contact
	}{
		{OSPAcme, RegionMetro, "Acme metro north on-call", []tenancy.Contact{
			{Position: 1, Name: "Ada Lovelace", Phone: "+15550101001"},
			{Position: 2, Name: "Grace Hopper", Phone: "+15550101002"},
			{Position: 3, Name: "Katherine Johnson", Phone: "+15550101003"},
		}},
		{OSPBolt, RegionMetro, "Bolt metro north on-call", []tenancy.Contact{
			{Position: 1, Name: "Linus Pauling", Phone: "+15550102001"},
			{Position: 2, Name: "Marie Curie", Phone: "+15550102002"},
		}},
		{OSPCedar, RegionCoast, "Cedar coast on-call", []tenancy.Contact{
			{Position: 1, Name: "Alan Turing", Phone: "+15550103001"},
			{Position: 2, Name: "Emmy Noether", Phone: "+15550103002"},
		}},
	}
	Policies = []tenancy.Policy{
		{NOCTenantID: NOCNorthwind, LoopCount: 2, RetryAfterSeconds: 1200, MaxRetries: 1, FailoverOSPIDs: []string{OSPBolt}},
		{NOCTenantID: NOCHarbor, LoopCount: 3, RetryAfterSeconds: 1200, MaxRetries: 0, FailoverOSPIDs: []string{OSPCedar}},
	}
)

// User is a demo user: `strike dev` creates each with dev-only credentials, and the browser
// tests walk each one's journey.
type User struct {
	Email, Name, What string
	SystemAdmin       bool
	Memberships       []Membership
}

// Membership is a demo user's role in a tenant.
type Membership struct {
	Kind, Tenant, Role string
}

// Users are the demo users, one per kind of person the design notes describe.
var Users = []User{
	{"nina@northwind.example", "Nina (Northwind operator)", "single-NOC operator", false, []Membership{{"noc", NOCNorthwind, "operator"}}},
	{"max@noc-ops.example", "Max (operator of two NOCs)", "multi-NOC operator", false, []Membership{{"noc", NOCNorthwind, "operator"}, {"noc", NOCHarbor, "operator"}}},
	{"olga@acme.example", "Olga (Acme agent)", "OSP agent", false, []Membership{{"osp", OSPAcme, "agent"}}},
	{"root@strike.example", "Strike admin", "system admin", true, nil},
	{"newbie@northwind.example", "Newbie", "no memberships", false, nil},
	{"oscar@acme.example", "Oscar (Acme admin)", "OSP admin", false, []Membership{{"osp", OSPAcme, "admin"}}},
}

// Seed writes the demo world. Existing rows are brought back to the demo values.
func Seed(ctx context.Context, s tenancy.Store) error {
	for _, n := range NOCs {
		if err := s.UpsertNOC(ctx, n); err != nil {
			return err
		}
	}
	for _, o := range OSPs {
		if err := s.UpsertOSP(ctx, o); err != nil {
			return err
		}
	}
	for _, l := range Links {
		if err := s.UpsertLink(ctx, l); err != nil {
			return err
		}
	}
	for _, r := range Rosters {
		if err := s.SetRoster(ctx, r.OSP, r.Region, r.Name, r.Contacts); err != nil {
			return err
		}
	}
	for _, p := range Policies {
		if err := s.UpsertPolicy(ctx, p); err != nil {
			return err
		}
	}
	return nil
}
