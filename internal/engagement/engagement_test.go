package engagement_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/schemas"
)

func ptr(v int) *int { return &v }

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	g := engagement.Defaults()
	tests := []struct {
		name     string
		people   int
		o        *schemas.EngagementOverrides
		badField string
	}{
		{"no overrides", 0, nil, ""},
		{"all at the bounds", 20, &schemas.EngagementOverrides{LoopCount: ptr(5), RingDurationSeconds: ptr(10), RetryAfterSeconds: ptr(86400), MaxRetries: ptr(0)}, ""},
		{"loop count 0", 1, &schemas.EngagementOverrides{LoopCount: ptr(0)}, "loop_count"},
		{"loop count 6", 1, &schemas.EngagementOverrides{LoopCount: ptr(6)}, "loop_count"},
		{"ring 9 s", 1, &schemas.EngagementOverrides{RingDurationSeconds: ptr(9)}, "ring_duration_seconds"},
		{"ring 61 s", 1, &schemas.EngagementOverrides{RingDurationSeconds: ptr(61)}, "ring_duration_seconds"},
		{"retry after 59 s", 1, &schemas.EngagementOverrides{RetryAfterSeconds: ptr(59)}, "retry_after_seconds"},
		{"six retries", 1, &schemas.EngagementOverrides{MaxRetries: ptr(6)}, "max_retries"},
		{"21 people", 21, nil, "people_needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := g.CheckRequest(tt.people, tt.o)
			if tt.badField == "" {
				if err != nil {
					t.Fatalf("CheckRequest: %v", err)
				}
				return
			}
			var oob *engagement.OutOfBoundsError
			if !errors.As(err, &oob) || oob.Field != tt.badField {
				t.Fatalf("error %v, want an out-of-bounds error on %s", err, tt.badField)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	g := engagement.Defaults()
	tests := []struct {
		name   string
		policy *engagement.Policy
		link   *engagement.LinkOverrides
		o      *schemas.EngagementOverrides
		want   string
	}{
		{"no policy: Strike defaults", nil, nil, nil, "{2 1200 1 [] 25}"},
		{"policy wins over defaults", &engagement.Policy{LoopCount: 3, RetryAfterSeconds: 600, MaxRetries: 2, FailoverOSPIDs: []string{"osp-b"}}, nil, nil, "{3 600 2 [osp-b] 25}"},
		{"policy beyond guardrails is clamped", &engagement.Policy{LoopCount: 9, RetryAfterSeconds: 5, MaxRetries: 9, RingDurationSeconds: ptr(120)}, nil, nil, "{5 60 5 [] 60}"},
		{"link overrides win over policy, clamped", &engagement.Policy{LoopCount: 3, RetryAfterSeconds: 600, MaxRetries: 2},
			&engagement.LinkOverrides{LoopCount: ptr(4), RingDurationSeconds: ptr(90)}, nil, "{4 600 2 [] 60}"},
		{"link overrides without a policy", nil, &engagement.LinkOverrides{MaxRetries: ptr(0)}, nil, "{2 1200 0 [] 25}"},
		{"request overrides win over policy and link", &engagement.Policy{LoopCount: 3, RetryAfterSeconds: 600, FailoverOSPIDs: []string{"osp-b"}},
			&engagement.LinkOverrides{LoopCount: ptr(4), RingDurationSeconds: ptr(30)},
			&schemas.EngagementOverrides{LoopCount: ptr(1), FailoverOSPIDs: []string{}, RingDurationSeconds: ptr(40)}, "{1 600 0 [] 40}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(g.Resolve(tt.policy, tt.link, tt.o)); got != tt.want {
				t.Errorf("Resolve = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestGuardrailsThatContradictThemselvesAreRefused(t *testing.T) {
	t.Parallel()
	g := engagement.Defaults()
	g.DefaultRingDuration = 90
	if err := g.Validate(); err == nil {
		t.Fatal("a default ring duration above the maximum was accepted")
	}
	if err := engagement.Defaults().Validate(); err != nil {
		t.Fatalf("the shipped defaults are invalid: %v", err)
	}
}
