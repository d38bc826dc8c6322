package dialer

import (
	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
)

// owned is one live ring-down in memory with its timer.
type owned struct {
	st    *ringdown.State
	part  int32
	timer Timer
}

// ringdowns are the committed ring-downs of the owned partitions, and the markers of finished
// ones. Only the loop's goroutine touches them.
type ringdowns struct {
	live map[string]*owned
	// done holds the ECOs whose ring-down ended and retired (their marker is in the state
	// topic): a redelivered eco.created for one is ignored. One small entry per finished ECO of
	// the owned partitions, kept for good, as the marker is.
	done map[string]int32
}

func newRingdowns() *ringdowns {
	return &ringdowns{live: map[string]*owned{}, done: map[string]int32{}}
}

func (r *ringdowns) retired(id string) bool {
	_, ok := r.done[id]
	return ok
}

// drop forgets the ring-downs and markers of partitions ps, stopping their timers.
func (r *ringdowns) drop(ps []int32) {
	gone := map[int32]bool{}
	for _, p := range ps {
		gone[p] = true
	}
	for id, o := range r.live {
		if gone[o.part] {
			if o.timer != nil {
				o.timer.Stop()
			}
			delete(r.live, id)
		}
	}
	for id, p := range r.done {
		if gone[p] {
			delete(r.done, id)
		}
	}
}

// byPhase counts the unfinished ring-downs by phase; it walks every one, so it runs on
// partition changes only (commits adjust the gauges by difference).
func (r *ringdowns) byPhase() map[string]int {
	n := map[string]int{}
	for _, o := range r.live {
		if !o.st.Final() {
			n[o.st.Phase]++
		}
	}
	return n
}

func (r *ringdowns) stopTimers() {
	for _, o := range r.live {
		if o.timer != nil {
			o.timer.Stop()
		}
	}
}
