package twiliosim

import (
	"context"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("fires timers in time order at their own instant", func(t *testing.T) {
		c := NewFakeClock(t0)
		var got []time.Duration
		c.AfterFunc(3*time.Second, func() { got = append(got, c.Now().Sub(t0)) })
		c.AfterFunc(1*time.Second, func() {
			got = append(got, c.Now().Sub(t0))
			// scheduled by a firing timer, still inside the window
			c.AfterFunc(time.Second, func() { got = append(got, c.Now().Sub(t0)) })
		})
		c.Advance(5 * time.Second)
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
		if len(got) != len(want) {
			t.Fatalf("fired %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("fired %v, want %v", got, want)
			}
		}
		if c.Now() != t0.Add(5*time.Second) {
			t.Fatalf("Now = %v", c.Now())
		}
	})
	t.Run("does not fire early or stopped timers", func(t *testing.T) {
		c := NewFakeClock(t0)
		fired := 0
		c.AfterFunc(2*time.Second, func() { fired++ })
		stopped := c.AfterFunc(time.Second, func() { fired += 10 })
		if !stopped.Stop() || stopped.Stop() {
			t.Fatal("Stop should succeed once")
		}
		c.Advance(2*time.Second - 1)
		if fired != 0 || c.Pending() != 1 {
			t.Fatalf("fired=%d pending=%d", fired, c.Pending())
		}
		c.Advance(1)
		if fired != 1 || c.Pending() != 0 {
			t.Fatalf("fired=%d pending=%d", fired, c.Pending())
		}
	})
	t.Run("WaitForTimers returns once enough are scheduled", func(t *testing.T) {
		c := NewFakeClock(t0)
		go c.AfterFunc(time.Second, func() {})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
	})
}
