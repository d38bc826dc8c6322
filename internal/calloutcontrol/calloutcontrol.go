// Package calloutcontrol builds the records of people's controls of running callouts (issue
// 13) the one way every producer must: validated against schemas/callout-control.v1.json,
// keyed by eco_id on strike.callout.controls.v1 (co-partitioned with the ECO's events, so the
// dialer replica that owns the ring-down applies it), with CloudEvents headers whose ce_id is
// derived from the control id, so a retried request is one control. The gateway's control
// routes use it.
package calloutcontrol

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Record validates c and returns the record to produce; source names the producer in ce_source.
func Record(v *schemas.Validator, c *schemas.CalloutControl, source string, now time.Time) (*kgo.Record, error) {
	value, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode control: %w", err)
	}
	if err := v.Validate(schemas.TypeCalloutControl, value); err != nil {
		return nil, err
	}
	return cloudevents.Record(topics.CalloutControls, c.ECOID, cloudevents.Event{
		ID:      ids.EventID(schemas.TypeCalloutControl, c.ControlID),
		Type:    schemas.TypeCalloutControl,
		Source:  source,
		Subject: c.ECOID,
		Time:    now,
	}, value), nil
}
