package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// BenchmarkECOListP99 measures GET /v1/nocs/{noc}/ecos through the whole handler (token lookup,
// membership check, RLS transaction, JSON) for a NOC with 100,000 ECOs, among 150,000 ECOs of
// several tenants. The mix: first pages, status filters, since filters and 20 pages deep by
// cursor. Reports p50 and p99 in ms (target p99 ≤ 20 ms).
func BenchmarkECOListP99(b *testing.B) {
	ctx := context.Background()
	db := pgtest.New(b)
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO eco_board (eco_id, noc_tenant_id, osp_tenant_id, request_id, job_number, region, priority, site_name,
			summary, status, status_class, status_at, status_rank, status_event, created_at, created_prio, updated_at)
		SELECT gen_random_uuid(), CASE WHEN i % 3 = 0 THEN 'noc-other' ELSE 'noc-big' END,
			'osp-' || (i % 7), gen_random_uuid()::text, 'JOB-' || i, 'metro-north', 'P1', 'Exchange ' || (i % 100),
			'Fibre cut ' || i, (ARRAY['created','ringing','accepted','exhausted','cancelled'])[1 + i % 5], 2,
			now(), 0, '', timestamptz '2026-01-01' + i * interval '1 minute', 2, now()
		FROM generate_series(1, 150000) i;
		ANALYZE eco_board`)
	if err != nil {
		b.Fatal(err)
	}
	var n int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM eco_board WHERE noc_tenant_id = 'noc-big'`).Scan(&n)
	if n != 100000 {
		b.Fatalf("noc-big has %d ECOs", n)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO noc_tenants (id, name, code) VALUES ('noc-big', 'Big', 'BIG')`); err != nil {
		b.Fatal(err)
	}
	acc := gateway.Accounts{Pool: db.Pool}
	if _, _, err := acc.EnsureUser(ctx, "op@big.example", "", false); err != nil {
		b.Fatal(err)
	}
	if err := acc.AddMembership(ctx, "op@big.example", "noc", "noc-big", "operator"); err != nil {
		b.Fatal(err)
	}
	token, err := acc.CreateToken(ctx, "op@big.example", "bench")
	if err != nil {
		b.Fatal(err)
	}
	v, _ := schemas.NewValidator()
	k := kafkatest.New(b)
	api, err := gateway.New(gateway.Deps{Pool: db.Pool, Validator: v, Producer: kafkatest.Client(b, k.Brokers), Log: zerolog.Nop()}, gateway.Config{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)

	get := func(path string) (time.Duration, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		start := time.Now()
		mux.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var l struct {
			NextCursor string `json:"next_cursor"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &l)
		return took, l.NextCursor
	}
	const base = "/v1/nocs/noc-big/ecos"
	for b.Loop() {
		var lat []time.Duration
		for range 5 { // warm the pool and caches
			get(base)
		}
		for round := range 20 {
			for _, q := range []string{"", "?status=accepted", "?status=exhausted&limit=100", "?since=2026-03-01T00:00:00Z",
				fmt.Sprintf("?since=2026-0%d-01T00:00:00Z&status=ringing", 1+round%9)} {
				d, _ := get(base + q)
				lat = append(lat, d)
				if testing.Verbose() && d > 10*time.Millisecond {
					b.Logf("slow: %s %v", q, d)
				}
			}
			// 20 pages deep by cursor.
			path := base + "?limit=50"
			for range 20 {
				d, next := get(path)
				lat = append(lat, d)
				if testing.Verbose() && d > 10*time.Millisecond {
					b.Logf("slow: page %v", d)
				}
				path = base + "?limit=50&cursor=" + next
			}
		}
		if testing.Verbose() {
			for _, q := range []string{"", "?status=accepted", "?status=exhausted&limit=100", "?since=2026-03-01T00:00:00Z", "?since=2026-05-01T00:00:00Z&status=ringing"} {
				var ds []time.Duration
				for range 10 {
					d, _ := get(base + q)
					ds = append(ds, d)
				}
				slices.Sort(ds)
				b.Logf("%-50s median %v max %v", q, ds[5], ds[9])
			}
			path := base + "?limit=50"
			for i := range 20 {
				d, next := get(path)
				if i%5 == 4 {
					b.Logf("page %d: %v", i, d)
				}
				path = base + "?limit=50&cursor=" + next
			}
		}
		slices.Sort(lat)
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(p(0.5), "p50_ms")
		b.ReportMetric(p(0.99), "p99_ms")
		b.ReportMetric(float64(len(lat)), "requests")
	}
}
