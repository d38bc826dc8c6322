package renderpoller

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// AbandonLeasesOnStop makes Run return like a crashed replica: leases and heartbeat are left
// to lapse instead of being given back.
func (p *Poller) AbandonLeasesOnStop() { p.abandonLeases = true }

// SetAfterProduce installs a hook that runs after a poll's events are produced and before its
// cursor is saved: crash tests cancel the replica there.
func (p *Poller) SetAfterProduce(f func()) { p.afterProduce = f }

// Polls is how many polls of instance ended with result on this replica.
func (p *Poller) Polls(instance, result string) float64 {
	return value(p.metrics.polls.WithLabelValues(instance, result))
}

// Owned is how many instances this replica holds.
func (p *Poller) Owned() int { return int(value(p.metrics.owned)) }

// DispatchResults is how many dispatch attempts ended with result.
func (d *Dispatcher) DispatchResults(result string) float64 {
	return value(d.metrics.results.WithLabelValues(result))
}

func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	return 0
}

// Enqueued is how many eco.created events this dispatcher has queued (repeats included).
func (d *Dispatcher) Enqueued() float64 { return value(d.metrics.enqueued) }
