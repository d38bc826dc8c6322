package dlq

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/schemas"
)

// Reason is the DLQ reason of an input that failed to decode (schemas.Validator.Decode):
// invalid_json when it is not JSON at all, schema_violation otherwise. One place, so every
// consumer names the same failure the same way.
func Reason(decodeErr error) string {
	if errors.Is(decodeErr, schemas.ErrInvalidJSON) {
		return schemas.DLQInvalidJSON
	}
	return schemas.DLQSchemaViolation
}

// Counter counts the DLQ records a consumer has made durable, as
// strike_dlq_records_total{consumer, reason}: every consumer's on one metric, read from the
// records' own headers so the labels are the ones an operator sees in the DLQ.
type Counter struct{ vec *prometheus.CounterVec }

// NewCounter registers the counter on reg, or shares the one already there (several
// components in one process, as in strike dev); reg may be nil.
func NewCounter(reg prometheus.Registerer) Counter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strike_dlq_records_total",
		Help: "Records sent to strike.dlq.v1, by consumer and reason (strike_dlq_reason), counted once durable.",
	}, []string{"consumer", "reason"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
			vec = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return Counter{vec: vec}
}

// Count counts recs that are DLQ records (others are ignored), once they are durable.
func (c Counter) Count(recs ...*kgo.Record) {
	if c.vec == nil {
		return
	}
	for _, r := range recs {
		var consumer, reason string
		for _, h := range r.Headers {
			switch h.Key {
			case HeaderConsumer:
				consumer = string(h.Value)
			case HeaderReason:
				reason = string(h.Value)
			}
		}
		if reason != "" {
			c.vec.WithLabelValues(consumer, reason).Inc()
		}
	}
}
