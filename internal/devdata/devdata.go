// Package devdata seeds the demo tenants that `strike dev` and the end-to-end tests use. Seeding
// is idempotent: running it again changes nothing that is already there (job counters and
// allocations are never touched).
package devdata

import (
	"context"
	"slices"
	"time"

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
	RegionSouth  = "metro-south" // Acme: someone is away now, with a substitute
	RegionHarbor = "harbor"      // Acme: a rotating roster
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
	// Rosters: Acme's metro-north is the one the demo script and the tests ring (fixed order,
	// nobody away); metro-south and harbor show away windows and rotation to a dev user.
	Rosters = []struct {
		OSP, Region, Name, Rotation string
		Contacts                    []tenancy.Contact
	}{
		{OSPAcme, RegionMetro, "Acme metro north on-call", tenancy.RotationFixed, []tenancy.Contact{
			{Position: 1, Name: "Ada Lovelace", Phone: "+15550101001"},
			{Position: 2, Name: "Grace Hopper", Phone: "+15550101002"},
			{Position: 3, Name: "Katherine Johnson", Phone: "+15550101003"},
		}},
		{OSPBolt, RegionMetro, "Bolt metro north on-call", tenancy.RotationFixed, []tenancy.Contact{
			{Position: 1, Name: "Linus Pauling", Phone: "+15550102001"},
			{Position: 2, Name: "Marie Curie", Phone: "+15550102002"},
		}},
		{OSPCedar, RegionCoast, "Cedar coast on-call", tenancy.RotationFixed, []tenancy.Contact{
			{Position: 1, Name: "Alan Turing", Phone: "+15550103001"},
			{Position: 2, Name: "Emmy Noether", Phone: "+15550103002"},
		}},
		{OSPAcme, RegionSouth, "Acme metro south on-call", tenancy.RotationFixed, []tenancy.Contact{
			{Position: 1, Name: "Dorothy Vaughan", Phone: "+15550101011"},
			{Position: 2, Name: "Mary Jackson", Phone: "+15550101012"},
			{Position: 3, Name: "Annie Easley", Phone: "+15550101013"},
		}},
		{OSPAcme, RegionHarbor, "Acme harbor on-call (shared overtime)", tenancy.RotationAfterAccepted, []tenancy.Contact{
			{Position: 1, Name: "Hedy Lamarr", Phone: "+15550101021"},
			{Position: 2, Name: "Radia Perlman", Phone: "+15550101022"},
			{Position: 3, Name: "Frances Allen", Phone: "+15550101023"},
		}},
	}
	// Away is who is away in the demo, with a substitute. Seed places the window around the day
	// it runs (from yesterday to two weeks on, whole UTC days, so seeding again the same day
	// changes nothing) and a dev user finds them away now.
	Away = struct {
		OSP, Region string
		Position    int
		Reason      string
		Note        string
		Substitute  tenancy.Person
	}{OSPAcme, RegionSouth, 2, tenancy.AwayLeave, "annual leave", tenancy.Person{Name: "Barbara Liskov", Phone: "+15550101019"}}
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
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for _, r := range Rosters {
		contacts := slices.Clone(r.Contacts)
		for i, c := range contacts {
			if r.OSP == Away.OSP && r.Region == Away.Region && c.Position == Away.Position {
				sub := Away.Substitute
				contacts[i].Away = []tenancy.Away{{From: day.AddDate(0, 0, -1), Until: day.AddDate(0, 0, 14), Reason: Away.Reason,
					Note: Away.Note, Substitute: &sub}}
			}
		}
		if err := s.PutRoster(ctx, tenancy.Roster{OSPTenantID: r.OSP, Region: r.Region, Name: r.Name, Rotation: r.Rotation,
			Contacts: contacts}); err != nil {
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
