package dialer

import (
	"context"
	"sync"
	"time"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
)

// item is an input that did not come from Kafka: a partition change, a Twilio result, a timer.
type item struct {
	assigned, revoked []int32
	epochs            ownership // of the assigned partitions
	gen               int32     // the group generation of the assignment
	eco               string
	part              int32
	placed            *ringdown.Placed
	fetched           *ringdown.Fetched
	found             *ringdown.Found
	tick              time.Time // the deadline that fired
}

// inbox queues internal inputs for the loop and interrupts its poll. It is bounded: a sender
// (a worker with a Twilio result, a timer) waits while it is full; partition changes and the
// loop's own requeues never wait.
type inbox struct {
	mu    sync.Mutex
	room  *sync.Cond
	items []item
	limit int
	wake  context.CancelFunc
}

func newInbox(limit int) *inbox {
	b := &inbox{limit: limit}
	b.room = sync.NewCond(&b.mu)
	return b
}

func (b *inbox) push(it item) {
	b.mu.Lock()
	for len(b.items) >= b.limit {
		b.room.Wait()
	}
	b.add(it)
	b.mu.Unlock()
}

// pushNow queues without waiting for room.
func (b *inbox) pushNow(its ...item) {
	b.mu.Lock()
	for _, it := range its {
		b.add(it)
	}
	b.mu.Unlock()
}

func (b *inbox) add(it item) {
	b.items = append(b.items, it)
	if b.wake != nil {
		b.wake()
	}
}

// take returns every queued item.
func (b *inbox) take() []item {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items = nil
	b.room.Broadcast()
	return items
}
