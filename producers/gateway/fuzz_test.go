package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// FuzzIntakeDecode: the intake decoder refuses with 400 only, never panics, and what it accepts
// has each top-level key once and exactly as CreateECOBody spells it, and survives a round trip
// unchanged.
func FuzzIntakeDecode(f *testing.F) {
	f.Add([]byte(`{"osp_tenant_id":"osp-acme","region":"metro-north","priority":"P1","site":{"name":"X"},"summary":"s"}`))
	f.Add([]byte(`{"summary":"a","summary":"b"}`))
	f.Add([]byte(`{"Summary":"a"}`))
	f.Add([]byte(`{"site":{"name":"a","NAME":"b"}}`))
	f.Add([]byte(`{"engagement":{"failover_osp_ids":["a","b"],"loop_count":2}}`))
	f.Add([]byte(`{"osp_tenant_id":"\u0073"}`))
	names := map[string]bool{}
	for k := range jsonFields(reflect.TypeOf(CreateECOBody{})) {
		names[k] = true
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b CreateECOBody
		if p := DecodeJSON(raw, &b); p != nil {
			if p.Status != 400 {
				t.Fatalf("decode problem with status %d", p.Status)
			}
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatalf("accepted what encoding/json cannot read as an object: %v", err)
		}
		if n := topLevelKeys(t, raw); n != len(top) {
			t.Fatalf("accepted %d top-level keys of which only %d are distinct: %s", n, len(top), raw)
		}
		for k := range top {
			if !names[k] {
				t.Fatalf("accepted key %q, not a field of the body", k)
			}
		}
		again, _ := json.Marshal(b)
		var b2 CreateECOBody
		if p := DecodeJSON(again, &b2); p != nil {
			t.Fatalf("its own encoding refused: %+v (%s)", p, again)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip changed the body: %+v vs %+v", b, b2)
		}
	})
}

// topLevelKeys counts the keys of the top-level object, duplicates included.
func topLevelKeys(t *testing.T, raw []byte) int {
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth, n := 0, 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = depth == 1 && v == '{'
			if depth == 1 && (v == '}' || v == ']') {
				expectKey = true
			}
			continue
		case string:
			if depth == 1 && expectKey {
				n++
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
}
