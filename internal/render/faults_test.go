package render_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/rendersim"
)

// TestFaults drives each simulator fault through ChangedJobs and checks the outcome: a
// transient fault is retried to success, a persistent one is the right typed error, and a
// malformed answer is ErrMalformed at once (no retry, no partial result).
func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    rendersim.Faults
		tweak     func(*render.InstanceConfig)
		ctxLimit  time.Duration // 0: no deadline
		want      error         // nil: success
		pages     int           // list requests the instance should see; 0: don't check
		minTime   time.Duration // the call must take at least this long
		maxTime   time.Duration // and at most this long; 0: don't check
		retryHint time.Duration // RetryAfter(err) must report this
		pageSize  int           // default 100: the 10 jobs fit one page, so pages counts attempts
		retryAtIn time.Duration // send Retry-After as an HTTP date this far ahead
	}{
		{name: "500 then success", faults: rendersim.Faults{ServerErrors: 2}, pages: 3},
		{name: "500 always exhausts retries", faults: rendersim.Faults{ServerErrors: rendersim.Always}, want: render.ErrUnavailable, pages: 3},
		{name: "no retries configured", faults: rendersim.Faults{ServerErrors: rendersim.Always},
			tweak: func(c *render.InstanceConfig) { c.MaxRetries = -1 }, want: render.ErrUnavailable, pages: 1},
		{name: "timeout then success", faults: rendersim.Faults{Timeouts: 1},
			tweak: func(c *render.InstanceConfig) { c.Timeout = 100 * time.Millisecond }, pages: 2, minTime: 100 * time.Millisecond},
		{name: "timeout always", faults: rendersim.Faults{Timeouts: rendersim.Always},
			tweak: func(c *render.InstanceConfig) { c.Timeout = 50 * time.Millisecond }, want: render.ErrUnavailable, pages: 3},
		{name: "caller deadline ends a hang", faults: rendersim.Faults{Timeouts: rendersim.Always},
			ctxLimit: 150 * time.Millisecond, want: context.DeadlineExceeded, maxTime: time.Second},
		{name: "429 waits Retry-After seconds", faults: rendersim.Faults{RateLimits: 1, RetryAfter: "1"},
			pages: 2, minTime: 950 * time.Millisecond, maxTime: 3 * time.Second},
		{name: "429 waits Retry-After HTTP date", faults: rendersim.Faults{RateLimits: 1}, retryAtIn: 2 * time.Second,
			pages: 2, minTime: 500 * time.Millisecond, maxTime: 3 * time.Second},
		{name: "429 without Retry-After backs off", faults: rendersim.Faults{RateLimits: 2}, pages: 3},
		{name: "429 always", faults: rendersim.Faults{RateLimits: rendersim.Always, RetryAfter: "0"}, want: render.ErrRateLimited, pages: 3},
		{name: "429 longer than MaxRetryAfter returns at once", faults: rendersim.Faults{RateLimits: 1, RetryAfter: "3600"},
			want: render.ErrRateLimited, pages: 1, maxTime: 2 * time.Second, retryHint: time.Hour},
		{name: "429 beyond the caller's deadline returns at once", faults: rendersim.Faults{RateLimits: 1, RetryAfter: "10"},
			ctxLimit: 3 * time.Second, want: render.ErrRateLimited, pages: 1, maxTime: 2 * time.Second, retryHint: 10 * time.Second},
		{name: "malformed JSON", faults: rendersim.Faults{Malformed: 1}, want: render.ErrMalformed, pages: 1},
		{name: "truncated body", faults: rendersim.Faults{Truncated: 1}, want: render.ErrMalformed, pages: 1},
		{name: "slow pages within the timeout", faults: rendersim.Faults{SlowPages: 30 * time.Millisecond}, pageSize: 4, pages: 3, minTime: 90 * time.Millisecond},
		{name: "slow pages beyond the timeout", faults: rendersim.Faults{SlowPages: 300 * time.Millisecond},
			tweak: func(c *render.InstanceConfig) { c.Timeout = 50 * time.Millisecond }, want: render.ErrUnavailable, pages: 3},
		{name: "duplicate pages are deduplicated", faults: rendersim.Faults{DuplicatePages: true}, pageSize: 4, pages: 6},
		{name: "page token loop", faults: rendersim.Faults{PageTokenLoop: true}, pageSize: 4, want: render.ErrMalformed, pages: 2},
		{name: "token endpoint 500 then success", faults: rendersim.Faults{TokenServerErrors: 1}, pages: 1},
		{name: "token endpoint always 500", faults: rendersim.Faults{TokenServerErrors: rendersim.Always}, want: render.ErrUnavailable, pages: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, rendersim.Config{})
			cfg := e.config("a", e.instance("a"))
			cfg.PageSize = 100
			if tt.pageSize > 0 {
				cfg.PageSize = tt.pageSize
			}
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			c := e.client(cfg)
			jobs := e.createJobs("a", 10)
			if tt.retryAtIn > 0 {
				tt.faults.RetryAfter = time.Now().Add(tt.retryAtIn).UTC().Format(http.TimeFormat)
			}
			e.faults("a", tt.faults)

			ctx := context.Background()
			if tt.ctxLimit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxLimit)
				defer cancel()
			}
			start := time.Now()
			ch, err := c.ChangedJobs(ctx, "")
			took := time.Since(start)

			if tt.want == nil {
				if err != nil {
					t.Fatalf("ChangedJobs: %v", err)
				}
				if len(ch.Jobs) != len(jobs) || ch.NextCursor == "" {
					t.Fatalf("read %d jobs (cursor %q), want %d", len(ch.Jobs), ch.NextCursor, len(jobs))
				}
				if tt.faults.DuplicatePages && ch.Duplicates != len(jobs) {
					t.Fatalf("Duplicates = %d, want %d", ch.Duplicates, len(jobs))
				}
			} else {
				if !errors.Is(err, tt.want) {
					t.Fatalf("ChangedJobs err = %v, want %v", err, tt.want)
				}
				if ch.NextCursor != "" || len(ch.Jobs) != 0 {
					t.Fatalf("failed read returned a partial result %+v", ch)
				}
				e.assertNoLeak("error", err.Error())
			}
			if tt.ctxLimit == 0 || tt.pages > 0 {
				if st := e.stats("a"); st.Pages != tt.pages {
					t.Fatalf("instance saw %d list requests, want %d (stats %+v)", st.Pages, tt.pages, st)
				}
			}
			if took < tt.minTime || tt.maxTime > 0 && took > tt.maxTime {
				t.Fatalf("took %v, want between %v and %v", took, tt.minTime, tt.maxTime)
			}
			if tt.retryHint > 0 {
				if d, ok := render.RetryAfter(err); !ok || d != tt.retryHint {
					t.Fatalf("RetryAfter(err) = %v, %v; want %v", d, ok, tt.retryHint)
				}
			}
		})
	}
}
