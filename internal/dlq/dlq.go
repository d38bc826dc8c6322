// Package dlq builds strike.dlq.v1 records: the input a consumer gave up on, with why and where
// it came from, so nothing is dropped silently and an operator can inspect and replay it.
package dlq

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Headers on every DLQ record, beside the CloudEvents ones.
const (
	HeaderReason          = "strike_dlq_reason"
	HeaderError           = "strike_dlq_error"
	HeaderConsumer        = "strike_dlq_consumer"
	HeaderOriginTopic     = "strike_dlq_origin_topic"
	HeaderOriginPartition = "strike_dlq_origin_partition"
	HeaderOriginOffset    = "strike_dlq_origin_offset"
)

// maxHeaderError bounds the error text copied into a header; the value has it whole.
const maxHeaderError = 512

// Record builds the DLQ record for in, which consumer could not process for reason
// (a schemas.DLQ* constant) because of cause. The key is the original key, so the DLQ keeps
// the original partitioning; the ce_id is derived from the origin, so a re-sent DLQ record for
// the same input has the same id.
func Record(consumer string, in *kgo.Record, reason string, cause error, now time.Time) *kgo.Record {
	origin := schemas.DLQOrigin{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
	if !in.Timestamp.IsZero() {
		ts := in.Timestamp.UTC()
		origin.Timestamp = &ts
	}
	rec := schemas.DLQRecord{
		Reason:   reason,
		Error:    cause.Error(),
		Consumer: consumer,
		Origin:   origin,
		FailedAt: now.UTC(),
	}
	if utf8.Valid(in.Value) {
		v := string(in.Value)
		rec.OriginalValue = &v
	} else {
		rec.OriginalValueBase64 = base64.StdEncoding.EncodeToString(in.Value)
	}
	if len(in.Headers) > 0 {
		rec.OriginalHeaders = make(map[string]string, len(in.Headers))
		for _, h := range in.Headers {
			rec.OriginalHeaders[h.Key] = string(h.Value)
		}
	}
	value, err := json.Marshal(rec)
	if err != nil {
		// Only a bug could make a struct of strings and numbers unmarshalable.
		panic(fmt.Sprintf("dlq: marshal record: %v", err))
	}
	partition := strconv.FormatInt(int64(in.Partition), 10)
	offset := strconv.FormatInt(in.Offset, 10)
	out := cloudevents.Record(topics.DLQ, string(in.Key), cloudevents.Event{
		ID:     ids.EventID(schemas.TypeDLQRecord, in.Topic, partition, offset),
		Type:   schemas.TypeDLQRecord,
		Source: "strike/" + consumer,
		Time:   now,
	}, value)
	out.Key = in.Key // keep a nil key nil
	errText := rec.Error
	if len(errText) > maxHeaderError {
		errText = errText[:maxHeaderError]
	}
	out.Headers = append(out.Headers,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(errText)},
		kgo.RecordHeader{Key: HeaderConsumer, Value: []byte(consumer)},
		kgo.RecordHeader{Key: HeaderOriginTopic, Value: []byte(in.Topic)},
		kgo.RecordHeader{Key: HeaderOriginPartition, Value: []byte(partition)},
		kgo.RecordHeader{Key: HeaderOriginOffset, Value: []byte(offset)},
	)
	return out
}
