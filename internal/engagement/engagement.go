// Package engagement resolves the settings an ECO's callout runs under: the NOC's policy (engagement
// intent), a request's overrides, and Strike's guardrails, which bound both.
//
// Who decides what (DESIGN §1): the NOC chooses loop count, retry-after, retries and failover
// OSPs; Strike owns ring duration (a default with a bounded override) and the bounds of every
// value. A stored policy outside today's guardrails is clamped into them (the guardrail wins);
// a request override outside them is refused, so the NOC learns its request was not honoured.
package engagement

import (
	"fmt"
	"strings"

	"github.com/osprey-strike/strike/schemas"
)

// Guardrails are Strike's bounds and defaults. Zero fields take the defaults of Defaults().
type Guardrails struct {
	LoopCountMin, LoopCountMax       int
	RingDurationMin, RingDurationMax int // seconds
	RetryAfterMin, RetryAfterMax     int // seconds
	MaxRetriesMax                    int
	PeopleNeededMax                  int
	DefaultLoopCount                 int
	DefaultRingDuration              int // seconds
	DefaultRetryAfter                int // seconds
	DefaultMaxRetries                int
}

// Defaults are the guardrails Strike ships with.
func Defaults() Guardrails {
	return Guardrails{
		LoopCountMin: 1, LoopCountMax: 5,
		RingDurationMin: 10, RingDurationMax: 60,
		RetryAfterMin: 60, RetryAfterMax: 86400,
		MaxRetriesMax:       5,
		PeopleNeededMax:     20,
		DefaultLoopCount:    2,
		DefaultRingDuration: 25,
		DefaultRetryAfter:   1200,
		DefaultMaxRetries:   1,
	}
}

// Validate reports guardrails that contradict themselves.
func (g Guardrails) Validate() error {
	var bad []string
	check := func(name string, lo, def, hi int) {
		if lo > hi || def < lo || def > hi {
			bad = append(bad, fmt.Sprintf("%s: default %d not within %d..%d", name, def, lo, hi))
		}
	}
	check("loop count", g.LoopCountMin, g.DefaultLoopCount, g.LoopCountMax)
	check("ring duration", g.RingDurationMin, g.DefaultRingDuration, g.RingDurationMax)
	check("retry after", g.RetryAfterMin, g.DefaultRetryAfter, g.RetryAfterMax)
	check("max retries", 0, g.DefaultMaxRetries, g.MaxRetriesMax)
	if g.LoopCountMin < 1 || g.PeopleNeededMax < 1 {
		bad = append(bad, "loop count and people needed must allow at least 1")
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid guardrails: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Policy is a NOC's stored callout policy.
type Policy struct {
	LoopCount           int
	RetryAfterSeconds   int
	MaxRetries          int
	FailoverOSPIDs      []string
	RingDurationSeconds *int
}

// OutOfBoundsError says which override broke which bound.
type OutOfBoundsError struct {
	Field    string
	Value    int
	Min, Max int
}

func (e *OutOfBoundsError) Error() string {
	return fmt.Sprintf("%s %d is outside Strike's bounds %d..%d", e.Field, e.Value, e.Min, e.Max)
}

// CheckRequest refuses a request whose overrides or people_needed fall outside the guardrails.
func (g Guardrails) CheckRequest(peopleNeeded int, o *schemas.EngagementOverrides) error {
	if peopleNeeded != 0 && (peopleNeeded < 1 || peopleNeeded > g.PeopleNeededMax) {
		return &OutOfBoundsError{"people_needed", peopleNeeded, 1, g.PeopleNeededMax}
	}
	if o == nil {
		return nil
	}
	for _, c := range []struct {
		field    string
		v        *int
		min, max int
	}{
		{"loop_count", o.LoopCount, g.LoopCountMin, g.LoopCountMax},
		{"ring_duration_seconds", o.RingDurationSeconds, g.RingDurationMin, g.RingDurationMax},
		{"retry_after_seconds", o.RetryAfterSeconds, g.RetryAfterMin, g.RetryAfterMax},
		{"max_retries", o.MaxRetries, 0, g.MaxRetriesMax},
	} {
		if c.v != nil && (*c.v < c.min || *c.v > c.max) {
			return &OutOfBoundsError{c.field, *c.v, c.min, c.max}
		}
	}
	return nil
}

// LinkOverrides are a NOC's per-OSP exceptions to its policy, stored on the NOC–OSP link; nil
// fields keep the policy's value.
type LinkOverrides struct {
	LoopCount           *int
	RetryAfterSeconds   *int
	MaxRetries          *int
	RingDurationSeconds *int
}

// Resolve combines, each later one winning: Strike's defaults, the NOC's policy (nil: none), the
// link's overrides (nil: none), both clamped into the guardrails because they are stored, and the
// request's overrides, which CheckRequest has accepted.
func (g Guardrails) Resolve(p *Policy, l *LinkOverrides, o *schemas.EngagementOverrides) schemas.Engagement {
	e := schemas.Engagement{
		LoopCount:           g.DefaultLoopCount,
		RetryAfterSeconds:   g.DefaultRetryAfter,
		MaxRetries:          g.DefaultMaxRetries,
		FailoverOSPIDs:      []string{},
		RingDurationSeconds: g.DefaultRingDuration,
	}
	if p != nil {
		e.LoopCount = clamp(p.LoopCount, g.LoopCountMin, g.LoopCountMax)
		e.RetryAfterSeconds = clamp(p.RetryAfterSeconds, g.RetryAfterMin, g.RetryAfterMax)
		e.MaxRetries = clamp(p.MaxRetries, 0, g.MaxRetriesMax)
		if p.FailoverOSPIDs != nil {
			e.FailoverOSPIDs = p.FailoverOSPIDs
		}
		if p.RingDurationSeconds != nil {
			e.RingDurationSeconds = clamp(*p.RingDurationSeconds, g.RingDurationMin, g.RingDurationMax)
		}
	}
	if l != nil {
		clamped := func(dst *int, v *int, lo, hi int) {
			if v != nil {
				*dst = clamp(*v, lo, hi)
			}
		}
		clamped(&e.LoopCount, l.LoopCount, g.LoopCountMin, g.LoopCountMax)
		clamped(&e.RetryAfterSeconds, l.RetryAfterSeconds, g.RetryAfterMin, g.RetryAfterMax)
		clamped(&e.MaxRetries, l.MaxRetries, 0, g.MaxRetriesMax)
		clamped(&e.RingDurationSeconds, l.RingDurationSeconds, g.RingDurationMin, g.RingDurationMax)
	}
	if o != nil {
		set := func(dst *int, v *int) {
			if v != nil {
				*dst = *v
			}
		}
		set(&e.LoopCount, o.LoopCount)
		set(&e.RetryAfterSeconds, o.RetryAfterSeconds)
		set(&e.MaxRetries, o.MaxRetries)
		set(&e.RingDurationSeconds, o.RingDurationSeconds)
		if o.FailoverOSPIDs != nil {
			e.FailoverOSPIDs = o.FailoverOSPIDs
		}
	}
	return e
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
