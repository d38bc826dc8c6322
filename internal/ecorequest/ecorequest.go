// Package ecorequest produces ECO requests onto strike.eco.requests.v1 the way every NOC tool
// should: keyed by OSP tenant, CloudEvents headers, validated against the schema first. It also
// waits for the outcome on strike.eco.events.v1. `strike eco submit`, the gateway's HTTP intake
// and the dialer's failover use it.
package ecorequest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Record validates req and returns the record to produce. A missing request id is generated;
// source names the producer in ce_source (e.g. "strike/cli").
func Record(v *schemas.Validator, req *schemas.ECORequest, source string, now time.Time) (*kgo.Record, error) {
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	value, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if err := v.Validate(schemas.TypeECORequest, value); err != nil {
		return nil, err
	}
	return cloudevents.Record(topics.ECORequests, req.OSPTenantID, cloudevents.Event{
		ID:      ids.EventID(schemas.TypeECORequest, req.NOCTenantID, req.RequestID), // request ids are the NOC's
		Type:    schemas.TypeECORequest,
		Source:  source,
		Subject: req.RequestID,
		Time:    now,
	}, value), nil
}

// CancelRecord validates c and returns the cancel record to produce to strike.eco.requests.v1,
// keyed by OSP so it lands on the partition of the ECO's own request, after it. A missing
// request id is generated.
func CancelRecord(v *schemas.Validator, c *schemas.ECOCancel, source string, now time.Time) (*kgo.Record, error) {
	if c.RequestID == "" {
		c.RequestID = uuid.NewString()
	}
	value, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode cancel: %w", err)
	}
	if err := v.Validate(schemas.TypeECOCancel, value); err != nil {
		return nil, err
	}
	return cloudevents.Record(topics.ECORequests, c.OSPTenantID, cloudevents.Event{
		ID:      ids.EventID(schemas.TypeECOCancel, c.NOCTenantID, c.RequestID),
		Type:    schemas.TypeECOCancel,
		Source:  source,
		Subject: c.ECOID,
		Time:    now,
	}, value), nil
}

// Submit validates and produces req to topic (a NOC tool's: its NOC's ingress topic,
// topics.NOCIngress), waiting until the broker has it.
func Submit(ctx context.Context, cl *kgo.Client, v *schemas.Validator, req *schemas.ECORequest, source, topic string) error {
	rec, err := Record(v, req, source, time.Now())
	if err != nil {
		return err
	}
	rec.Topic = topic
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce request %s: %w", req.RequestID, err)
	}
	return nil
}

// Outcome is what became of a request.
type Outcome struct {
	Created  *schemas.ECOCreated
	Rejected *schemas.ECORejected
}

// Waiter watches an outcome topic (a NOC's egress topic, topics.NOCEgress, or
// strike.eco.events.v1 inside Strike) for outcomes. Create it before submitting, so an outcome
// that arrives quickly is not missed.
type Waiter struct {
	cl *kgo.Client
}

// NewWaiter starts reading topic (read-committed) from its current end.
func NewWaiter(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) (*Waiter, error) {
	base, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(base).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	base.Close()
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Waiter{cl: cl}, nil
}

// Wait returns the outcome of NOC noc's request requestID, or ctx's error. Request ids are
// namespaced per NOC, so an outcome counts only when it is noc's: on strike.eco.events.v1 another
// NOC's request with the same id has outcomes too. noc is the NOC the broker knows the tool as
// (its ingress topic's), which a tenant_mismatch rejection carries whatever the body said.
func (w *Waiter) Wait(ctx context.Context, noc, requestID string) (Outcome, error) {
	for {
		fs := w.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Outcome{}, fmt.Errorf("waiting for the outcome of request %s: %w", requestID, err)
		}
		var out Outcome
		var decodeErr error
		fs.EachRecord(func(r *kgo.Record) {
			if out.Created != nil || out.Rejected != nil {
				return
			}
			// Matched by the request, not by ECO id: a refusal carries an ECO id of its own
			// (tenant_mismatch, request_id_conflict), and an ECO allocated before ids were per
			// NOC keeps the id it had.
			switch typ, _ := cloudevents.Header(r, cloudevents.HeaderType); typ {
			case schemas.TypeECOCreated:
				var c schemas.ECOCreated
				if err := json.Unmarshal(r.Value, &c); err != nil {
					decodeErr = err
				} else if c.NOCTenantID == noc && c.RequestID == requestID {
					out.Created = &c
				}
			case schemas.TypeECORejected:
				var rej schemas.ECORejected
				if err := json.Unmarshal(r.Value, &rej); err != nil {
					decodeErr = err
				} else if rej.NOCTenantID == noc && rej.RequestID == requestID {
					out.Rejected = &rej
				}
			}
		})
		if decodeErr != nil {
			return Outcome{}, fmt.Errorf("decode outcome of request %s: %w", requestID, decodeErr)
		}
		if out.Created != nil || out.Rejected != nil {
			return out, nil
		}
	}
}

// Close stops the waiter.
func (w *Waiter) Close() { w.cl.Close() }
