package renderpoller

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// A poll stops when the replica's leases may have lapsed, even with PollTimeout left: another
// replica may be polling the instance by then.
func TestPollNeverOutlivesItsLease(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a Render instance that answers very late
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	p, err := New(fakeDeps(t), Config{Brokers: "x", PollTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := render.New(render.InstanceConfig{BaseURL: slow.URL, ClientID: "c", ClientSecret: "s3cret-x", Timeout: 20 * time.Second, MaxRetries: -1}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{p: p, l: lease{instanceRow: instanceRow{ID: "acme-main", OSPTenantID: devdata.OSPAcme}}, log: zerolog.Nop()}
	p.leaseDeadline.Store(time.Now().Add(300 * time.Millisecond).UnixNano())
	go func() { // one renewal in the meantime extends the poll's life, once
		time.Sleep(200 * time.Millisecond)
		p.leaseDeadline.Store(time.Now().Add(300 * time.Millisecond).UnixNano())
	}()
	start := time.Now()
	cursor := "c1"
	result, err := w.poll(context.Background(), c, &cursor, false)
	took := time.Since(start)
	if !errors.Is(err, errLeaseLost) || result != resultLeaseLost {
		t.Fatalf("poll = %q, %v; want %q, errLeaseLost", result, err, resultLeaseLost)
	}
	if took < 450*time.Millisecond || took > 2*time.Second {
		t.Fatalf("poll ended after %s; want just after the renewed lease deadline (500 ms)", took)
	}
	if cursor != "c1" {
		t.Fatalf("cursor moved to %q", cursor)
	}
}

// The cursor is saved only over the one the poll started from: a poll that read an older
// cursor never moves the stored one back.
func TestCursorOnlyMovesForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	if err := devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKeyring("k1:" + secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := (Admin{Pool: db.Pool, Keyring: kr}).Add(ctx, InstanceSpec{ID: "acme-main", OSPTenantID: devdata.OSPAcme,
		BaseURL: "https://acme.render.example", ClientID: "acme"}, "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE render_poll_state SET owner = 'r1', lease_until = now() + interval '1 minute', cursor = 'c2'
		WHERE instance_id = 'acme-main'`); err != nil {
		t.Fatal(err)
	}
	s := store{pool: db.Pool}
	stored := func() string {
		var c string
		if err := db.Pool.QueryRow(ctx, `SELECT cursor FROM render_poll_state WHERE instance_id = 'acme-main'`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if ok, err := s.saveCursor(ctx, "r1", "acme-main", "c1", "c1-next"); err != nil || ok {
		t.Fatalf("save over an older cursor = %v, %v; want refused", ok, err)
	}
	if got := stored(); got != "c2" {
		t.Fatalf("stored cursor moved back to %q", got)
	}
	if ok, err := s.saveCursor(ctx, "r1", "acme-main", "c2", "c3"); err != nil || !ok {
		t.Fatalf("save from the stored cursor = %v, %v; want saved", ok, err)
	}
	if got := stored(); got != "c3" {
		t.Fatalf("stored cursor %q, want c3", got)
	}
}
