package renderpoller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/secrets"
)

func TestBackoffDoublesPerFailureWithinItsBounds(t *testing.T) {
	t.Parallel()
	p := &Poller{cfg: Config{MaxBackoff: time.Minute}}
	tests := []struct {
		interval time.Duration
		failures int
		min, max time.Duration // the ±20 % jitter band
	}{
		{interval: time.Second, failures: 1, min: 1600 * time.Millisecond, max: 2400 * time.Millisecond},
		{interval: time.Second, failures: 3, min: 6400 * time.Millisecond, max: 9600 * time.Millisecond},
		{interval: time.Second, failures: 30, min: 48 * time.Second, max: 72 * time.Second},     // capped at MaxBackoff
		{interval: 2 * time.Minute, failures: 5, min: 96 * time.Second, max: 144 * time.Second}, // never below the interval's own band
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s after %d failures", tt.interval, tt.failures), func(t *testing.T) {
			for range 50 {
				if d := p.backoff(tt.interval, tt.failures, errors.New("x")); d < tt.min || d > tt.max {
					t.Fatalf("backoff = %s, want within [%s, %s]", d, tt.min, tt.max)
				}
			}
		})
	}
}

func TestClassifyNamesEachAdapterFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("list jobs: %w", render.ErrUnavailable), resultUnavailable},
		{fmt.Errorf("list jobs: %w", render.ErrRateLimited), resultRateLimited},
		{fmt.Errorf("list jobs: %w", render.ErrUnauthorized), resultUnauthorized},
		{fmt.Errorf("list jobs: %w", render.ErrMalformed), resultMalformed},
		{fmt.Errorf("list jobs: %w", render.ErrInvalidCursor), resultInvalidCursor},
		{errors.New("something else"), resultError},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestNewRefusesLeaseSettingsThatCannotHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no brokers", Config{}, "no Kafka brokers"},
		{"tiny TTL", Config{Brokers: "x", LeaseTTL: 500 * time.Millisecond}, "lease TTL 500ms is below 1s"},
		{"tick too slow", Config{Brokers: "x", LeaseTTL: 10 * time.Second, LeaseTick: 6 * time.Second}, "lease tick 6s must be at most half"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := Deps{Pool: nil, Keyring: nil}
			if tt.cfg.Brokers != "" {
				deps = fakeDeps(t)
			}
			_, err := New(deps, tt.cfg)
			if err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// fakeDeps are Deps whose pool never connects: enough for New's validation.
func fakeDeps(t *testing.T) Deps {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	kr, err := secrets.ParseKeyring("k:" + secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return Deps{Pool: pool, Keyring: kr}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestReadyOnlyWhileTheLeasesAreFresh(t *testing.T) {
	t.Parallel()
	p, err := New(fakeDeps(t), Config{Brokers: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ready(context.Background()) == nil {
		t.Error("ready before any lease round")
	}
	p.leaseDeadline.Store(time.Now().Add(time.Second).UnixNano())
	if err := p.Ready(context.Background()); err != nil {
		t.Errorf("not ready with fresh leases: %v", err)
	}
	p.leaseDeadline.Store(time.Now().Add(-time.Second).UnixNano())
	if p.Ready(context.Background()) == nil {
		t.Error("ready after the leases lapsed")
	}
}
