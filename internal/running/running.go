// Package running runs a component's Run(ctx) in a test and stops it the way SIGTERM would:
// cancel, then wait for Run to return. The test fails if Run returns an error or does not stop
// within the bound, so a component that cannot shut down cleanly never passes unnoticed.
package running

import (
	"context"
	"sync"
	"testing"
	"time"
)

// StopWithin bounds how long Stop waits for Run to return.
const StopWithin = 30 * time.Second

// Component is a running component.
type Component struct {
	name   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start runs run(ctx) in a goroutine; cancel must cancel ctx. The component is stopped when the
// test ends if Stop was not called before.
func Start(t testing.TB, name string, ctx context.Context, cancel context.CancelFunc, run func(context.Context) error) *Component {
	t.Helper()
	c := &Component{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- run(ctx) }()
	t.Cleanup(func() { c.Stop(t) })
	return c
}

// Stop cancels the component and waits for it; calling it again does nothing.
func (c *Component) Stop(t testing.TB) {
	c.once.Do(func() {
		c.cancel()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("%s stopped with error: %v", c.name, err)
			}
		case <-time.After(StopWithin):
			t.Errorf("%s did not stop within %v", c.name, StopWithin)
		}
	})
}
