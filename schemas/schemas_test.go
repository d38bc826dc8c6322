package schemas_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

const validRequest = `{
  "request_id": "0b7c6f1e-4a8e-4f43-9d55-2f7f3c2b9a10",
  "noc_tenant_id": "noc-northwind",
  "osp_tenant_id": "osp-acme",
  "region": "metro-north",
  "priority": "P1",
  "site": {"name": "Exchange 7", "address": "1 Main St", "latitude": 51.5, "longitude": -0.12},
  "summary": "Fibre cut on ring 4",
  "requested_by": {"name": "Noor"},
  "people_needed": 2,
  "engagement": {"loop_count": 3, "failover_osp_ids": ["osp-bolt"]}
}`

func validator(t testing.TB) *schemas.Validator {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatalf("schemas do not compile: %v", err)
	}
	return v
}

func TestECORequestValidation(t *testing.T) {
	t.Parallel()
	v := validator(t)
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(validRequest), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name    string
		raw     string
		wantErr error
		where   string
	}{
		{"valid", validRequest, nil, ""},
		{"not JSON", `{"request_id":`, schemas.ErrInvalidJSON, ""},
		{"not an object", `[1,2]`, schemas.ErrSchemaViolation, "at /:"},
		{"request id not a uuid", mutate(func(m map[string]any) { m["request_id"] = "abc" }), schemas.ErrSchemaViolation, "/request_id"},
		{"missing summary", mutate(func(m map[string]any) { delete(m, "summary") }), schemas.ErrSchemaViolation, "summary"},
		{"unknown field", mutate(func(m map[string]any) { m["color"] = "red" }), schemas.ErrSchemaViolation, "color"},
		{"bad priority", mutate(func(m map[string]any) { m["priority"] = "urgent" }), schemas.ErrSchemaViolation, "/priority"},
		{"upper-case tenant", mutate(func(m map[string]any) { m["osp_tenant_id"] = "OSP" }), schemas.ErrSchemaViolation, "/osp_tenant_id"},
		{"latitude out of range", mutate(func(m map[string]any) { m["site"].(map[string]any)["latitude"] = 91 }), schemas.ErrSchemaViolation, "/site/latitude"},
		{"zero people", mutate(func(m map[string]any) { m["people_needed"] = 0 }), schemas.ErrSchemaViolation, "/people_needed"},
		{"loop count not an integer", mutate(func(m map[string]any) { m["engagement"].(map[string]any)["loop_count"] = 1.5 }), schemas.ErrSchemaViolation, "/engagement/loop_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req schemas.ECORequest
			err := v.Decode(schemas.TypeECORequest, []byte(tt.raw), &req)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if req.PeopleNeeded != 2 || *req.Engagement.LoopCount != 3 || req.Site.Name != "Exchange 7" {
					t.Errorf("decoded %+v", req)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.where) {
				t.Errorf("error %q does not say where (%q)", err, tt.where)
			}
		})
	}
}

func TestUnknownTypeIsAnError(t *testing.T) {
	t.Parallel()
	err := validator(t).Validate("strike.nope.v1", []byte(`{}`))
	if !errors.Is(err, schemas.ErrUnknownType) {
		t.Fatalf("error %v, want ErrUnknownType", err)
	}
}

// FuzzDecodeECORequest feeds arbitrary bytes to the decoder the eco-processor runs on every
// record a NOC tool produces: it must never panic, and anything it accepts must survive a
// round trip through the Go type unchanged in meaning.
func FuzzDecodeECORequest(f *testing.F) {
	f.Add([]byte(validRequest))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"request_id":"0b7c6f1e-4a8e-4f43-9d55-2f7f3c2b9a10"}`))
	f.Add([]byte{0xff, 0x00})
	v := validator(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req schemas.ECORequest
		if err := v.Decode(schemas.TypeECORequest, raw, &req); err != nil {
			if !errors.Is(err, schemas.ErrInvalidJSON) && !errors.Is(err, schemas.ErrSchemaViolation) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var back schemas.ECORequest
		if err := v.Decode(schemas.TypeECORequest, again, &back); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %q: %v", raw, again, err)
		}
	})
}

func TestEveryConstantNamesASchema(t *testing.T) {
	t.Parallel()
	v := validator(t)
	have := map[string]bool{}
	for _, typ := range v.Types() {
		have[typ] = true
	}
	for _, typ := range []string{schemas.TypeECORequest, schemas.TypeECOCreated, schemas.TypeECORejected,
		schemas.TypeECOCancel, schemas.TypeECOCancelled, schemas.TypeDLQRecord} {
		if !have[typ] {
			t.Errorf("no schema file for %s (have %v)", typ, v.Types())
		}
	}
}

// Every Go event type marshals to a document its schema accepts, so the types and the files
// cannot drift apart silently.
func TestGoTypesMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	v := validator(t)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ref := schemas.CalloutRef{ECOID: "0b7c6f1e-4a8e-4f43-9d55-2f7f3c2b9a10", NOCTenantID: "noc-a", OSPTenantID: "osp-a", JobNumber: "A-1"}
	contact := schemas.Contact{Position: 1, Name: "Ada", Phone: "+15550101001"}
	eng := schemas.Engagement{LoopCount: 2, RetryAfterSeconds: 1200, MaxRetries: 1, FailoverOSPIDs: []string{}, RingDurationSeconds: 25}
	cases := map[string]any{
		schemas.TypeCalloutStarted: schemas.CalloutStarted{CalloutRef: ref, Region: "r", RosterSize: 2, PeopleNeeded: 1, Engagement: eng, StartedAt: now},
		schemas.TypeCalloutContactSkipped: schemas.ContactSkipped{CalloutRef: ref, Contact: contact, Pass: 1, Reason: schemas.SkipSubstituted,
			Substitute: &schemas.Person{Name: "Bo", Phone: "+15550101009"}, CallID: "c", AwayUntil: &now, SkippedAt: now},
		schemas.TypeCalloutStarted + " with roster": schemas.CalloutStarted{CalloutRef: ref, Region: "r", RosterSize: 1, PeopleNeeded: 1, Engagement: eng, StartedAt: now,
			Roster: []schemas.RosterEntry{{Contact: contact, Unavailable: []schemas.AwayWindow{{From: now, Until: now, Reason: "leave",
				Substitute: &schemas.Person{Name: "Bo", Phone: "+15550101009"}}}}}, Rotation: &schemas.Rotation{Mode: "after_last_called", StartPosition: 1}},
		schemas.TypeCalloutCallPlaced:     schemas.CallPlaced{CalloutRef: ref, CallID: "c", CallSID: "CA1", Contact: contact, Pass: 1, PlacedAt: now},
		schemas.TypeCalloutCallEnded:      schemas.CallEnded{CalloutRef: ref, CallID: "c", Contact: contact, Pass: 1, Result: schemas.CallNoAnswer, EndedAt: now},
		schemas.TypeCalloutAccepted:       schemas.CalloutAccepted{CalloutRef: ref, Contact: contact, CallSID: "CA1", CallsMade: 3, AcceptedCount: 1, PeopleNeeded: 1, AcceptedAt: now},
		schemas.TypeCalloutDeclined:       schemas.CalloutDeclined{CalloutRef: ref, Contact: contact, CallSID: "CA1", DeclinedAt: now},
		schemas.TypeCalloutRetryScheduled: schemas.RetryScheduled{CalloutRef: ref, RetryAt: now, Round: 1, ScheduledAt: now},
		schemas.TypeCalloutFailedOver:     schemas.FailedOver{CalloutRef: ref, ToOSPTenantID: "osp-b", NewRequestID: ref.ECOID, NewECOID: ref.ECOID, FailedOverAt: now},
		schemas.TypeCalloutExhausted:      schemas.CalloutExhausted{CalloutRef: ref, Reason: schemas.ExhaustedPasses, ExhaustedAt: now},
		schemas.TypeCalloutCancelled:      schemas.CalloutCancelled{CalloutRef: ref, CancelledAt: now},
		schemas.TypeECOCancel:             schemas.ECOCancel{RequestID: ref.ECOID, ECOID: ref.ECOID, NOCTenantID: "noc-a", OSPTenantID: "osp-a", RequestedBy: schemas.Requester{Name: "N"}},
		schemas.TypeECOCancelled:          schemas.ECOCancelled{ECOID: ref.ECOID, RequestID: ref.ECOID, NOCTenantID: "noc-a", OSPTenantID: "osp-a", JobNumber: "A-1", CancelledBy: schemas.Requester{Name: "N"}, CancelledAt: now},
		schemas.TypeRenderJobChanged:      schemas.RenderJobChanged{ChangeID: ref.ECOID, OSPTenantID: "osp-a", InstanceID: "i", RenderJobID: "j", ExternalRef: "A-1", Status: "en_route", Version: 2, UpdatedAt: now, DetectedAt: now},
		schemas.TypeDLQRecord: schemas.DLQRecord{Reason: schemas.DLQPartitionMismatch, Error: "e", Consumer: "eco-processor",
			Origin: schemas.DLQOrigin{Topic: "t", Partition: 1, Offset: 2}, OriginalValue: &ref.ECOID, FailedAt: now,
			OriginalTruncated: true, OriginalSize: 1 << 20, OriginalSHA256: strings.Repeat("ab", 32), OriginalHeadersTruncated: true},
		schemas.TypeRenderDispatch: schemas.RenderDispatch{ECOID: ref.ECOID, NOCTenantID: "noc-a", OSPTenantID: "osp-a", JobNumber: "A-1", Result: schemas.DispatchCreated, Attempt: 1, At: now},
	}
	for typ, ev := range cases {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(strings.TrimSuffix(typ, " with roster"), raw); err != nil {
			t.Errorf("%s: %v\n%s", typ, err, raw)
		}
	}
}

// CallResults and SkipReasons are the schemas' enums, so whoever words them (the web UI) has
// every value.
func TestResultAndSkipListsAreTheSchemasEnums(t *testing.T) {
	for _, c := range []struct {
		file, field string
		list        []string
	}{
		{"callout-call-ended.v1.json", "result", schemas.CallResults},
		{"callout-contact-skipped.v1.json", "reason", schemas.SkipReasons},
	} {
		raw, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		enum := doc.Properties[c.field].Enum
		if !slices.Equal(slices.Sorted(slices.Values(enum)), slices.Sorted(slices.Values(c.list))) {
			t.Errorf("%s %s: enum %q, Go list %q", c.file, c.field, enum, c.list)
		}
	}
}
