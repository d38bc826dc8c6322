package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/producers/gateway"
)

// The intake decoder refuses a key given twice and a key in the wrong case (encoding/json would
// take the last duplicate and match keys case-insensitively), naming the key.
func TestIntakeDecoderRefusesDuplicateAndWrongCaseKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, field, detail string
	}{
		{"duplicate", `{"osp_tenant_id":"osp-acme","summary":"a","summary":"b"}`, "summary", "duplicate key"},
		{"duplicate in case", `{"osp_tenant_id":"osp-acme","region":"x","Region":"y"}`, "Region", "duplicate key"},
		{"wrong case", `{"OSP_Tenant_ID":"osp-acme"}`, "OSP_Tenant_ID", `"osp_tenant_id"`},
		{"nested duplicate", `{"site":{"name":"a","name":"b"}}`, "site/name", "duplicate key"},
		{"nested wrong case", `{"engagement":{"Loop_Count":2}}`, "engagement/Loop_Count", `"loop_count"`},
		{"in a list", `{"engagement":{"failover_osp_ids":["a"],"failover_osp_ids":["b"]}}`, "engagement/failover_osp_ids", "duplicate key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b gateway.CreateECOBody
			p := gateway.DecodeJSON([]byte(tc.body), &b)
			if p == nil {
				t.Fatalf("%s accepted: %+v", tc.body, b)
			}
			if p.Status != http.StatusBadRequest || p.Slug() != gateway.ProbValidation || len(p.Errors) != 1 ||
				p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Detail, tc.detail) {
				t.Fatalf("%s: %+v, want 400 validation naming %s (%s)", tc.body, p, tc.field, tc.detail)
			}
		})
	}
	var b gateway.CreateECOBody
	if p := gateway.DecodeJSON([]byte(`{"osp_tenant_id":"osp-acme","site":{"name":"X"},"engagement":{"loop_count":2}}`), &b); p != nil {
		t.Fatalf("a valid body refused: %+v", p)
	}
}

// Over HTTP: a duplicate key in an intake body is a 400 problem naming the key, and nothing is
// produced.
func TestHTTPIntakeRefusesADuplicateKey(t *testing.T) {
	t.Parallel()
	l := newLightAPI(t, gateway.Config{}, zerolog.Nop())
	ctx := context.Background()
	if err := devdata.Seed(ctx, tenancy.Store{Pool: l.db.Pool}); err != nil {
		t.Fatal(err)
	}
	if err := (gateway.Accounts{Pool: l.db.Pool}).AddMembership(ctx, single, "noc", devdata.NOCNorthwind, "operator"); err != nil {
		t.Fatal(err)
	}
	body := `{"osp_tenant_id":"osp-acme","region":"metro-north","priority":"P1","site":{"name":"X"},` +
		`"summary":"Fibre cut","summary":"Something else"}`
	req, _ := http.NewRequest(http.MethodPost, l.srv.URL+"/v1/nocs/"+devdata.NOCNorthwind+"/ecos", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+l.tokens[single])
	resp, err := l.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %s, want 400 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	if !strings.Contains(raw.String(), `"field":"summary"`) {
		t.Fatalf("the problem does not name the key: %s", raw.String())
	}
}
