// Package dlq builds strike.dlq.v1 records: the input a consumer gave up on, with why and where
// it came from, so nothing is dropped silently and an operator can inspect and replay it.
package dlq

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	// HeaderOriginalSize and HeaderOriginalSHA256 are the original value's length in bytes and
	// its SHA-256 (hex), on every DLQ record; HeaderTruncated is "true" when the value carries
	// only a prefix of the original.
	HeaderOriginalSize   = "strike_dlq_original_size"
	HeaderOriginalSHA256 = "strike_dlq_original_sha256"
	HeaderTruncated      = "strike_dlq_original_truncated"
)

// MaxValueBytes bounds a DLQ record's value; with the key and headers (also bounded) a DLQ
// record stays far below Kafka's default 1 MB message limit, whatever the input's size.
const MaxValueBytes = 128 << 10

// maxHeaderError bounds the error text copied into a header; the value has it up to maxError.
const maxHeaderError = 512

// MaxKeyBytes bounds a DLQ record's key (the original key, cut): a DLQ key of exactly this
// length may be a cut one.
const MaxKeyBytes = 1 << 10

// Bounds on the parts of a DLQ record that come from its input, so the record always fits.
const (
	maxError          = 4 << 10  // error text in the value
	maxHeaderKey      = 256      // one original header's key
	maxHeaderValue    = 1 << 10  // one original header's value
	maxOriginalHeader = 16 << 10 // all original headers, JSON-encoded
)

// Record builds the DLQ record for in, which consumer could not process for reason
// (a schemas.DLQ* constant) because of cause. The key is the original key, so the DLQ keeps
// the original partitioning; the ce_id is derived from the origin, so a re-sent DLQ record for
// the same input has the same id.
//
// The record always fits a broker with Kafka's default 1 MB limit: its value stays within
// MaxValueBytes. When the original value does not fit whole, the value carries its longest
// prefix that does, with original_truncated, original_size and original_sha256; the headers
// strike_dlq_original_size and strike_dlq_original_sha256 are on every record. Very long error
// texts, keys and original headers are cut too.
func Record(consumer string, in *kgo.Record, reason string, cause error, now time.Time) *kgo.Record {
	origin := schemas.DLQOrigin{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
	if !in.Timestamp.IsZero() {
		ts := in.Timestamp.UTC()
		origin.Timestamp = &ts
	}
	rec := schemas.DLQRecord{
		Reason:   reason,
		Error:    cutText(cause.Error(), maxError),
		Consumer: consumer,
		Origin:   origin,
		FailedAt: now.UTC(),
	}
	rec.OriginalHeaders, rec.OriginalHeadersTruncated = originalHeaders(in.Headers)
	sum := sha256.Sum256(in.Value)
	hash := hex.EncodeToString(sum[:])
	value := originalValue(&rec, in.Value, hash)

	partition := strconv.FormatInt(int64(in.Partition), 10)
	offset := strconv.FormatInt(in.Offset, 10)
	out := cloudevents.Record(topics.DLQ, string(in.Key), cloudevents.Event{
		ID:     ids.EventID(schemas.TypeDLQRecord, in.Topic, partition, offset),
		Type:   schemas.TypeDLQRecord,
		Source: "strike/" + consumer,
		Time:   now,
	}, value)
	out.Key = in.Key // keep a nil key nil
	if len(out.Key) > MaxKeyBytes {
		out.Key = out.Key[:MaxKeyBytes]
	}
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
		kgo.RecordHeader{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(in.Value)))},
		kgo.RecordHeader{Key: HeaderOriginalSHA256, Value: []byte(hash)},
	)
	if rec.OriginalTruncated {
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: HeaderTruncated, Value: []byte("true")})
	}
	return out
}

// originalValue sets the original value on rec, whole if the marshalled record then fits in
// MaxValueBytes, else its longest prefix that fits, and returns the marshalled record.
func originalValue(rec *schemas.DLQRecord, v []byte, hash string) []byte {
	text := utf8.Valid(v)
	set := func(p []byte) {
		if text {
			s := string(p)
			rec.OriginalValue, rec.OriginalValueBase64 = &s, ""
		} else {
			rec.OriginalValue, rec.OriginalValueBase64 = nil, base64.StdEncoding.EncodeToString(p)
		}
	}
	set(v)
	if whole := marshal(rec); len(whole) <= MaxValueBytes {
		return whole
	}
	rec.OriginalTruncated, rec.OriginalSize, rec.OriginalSHA256 = true, len(v), hash
	set(nil)
	budget := MaxValueBytes - len(marshal(rec))
	if text {
		// The longest prefix, cut between runes, whose JSON encoding fits: encoding never
		// shrinks a string, so no prefix longer than the budget can fit.
		fits := func(n int) bool {
			enc, _ := json.Marshal(string(v[:runeStart(v, n)]))
			return len(enc)-2 <= budget
		}
		lo, hi := 0, min(len(v), max(0, budget))
		for lo < hi {
			if mid := (lo + hi + 1) / 2; fits(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		set(v[:runeStart(v, lo)])
	} else {
		// set(nil) left out the empty base64 field; leave room for its name.
		budget -= len(`,"original_value_base64":""`)
		set(v[:min(len(v), max(0, budget)/4*3)])
	}
	return marshal(rec)
}

// runeStart is the largest n' <= n at which a rune of v starts (or len(v)).
func runeStart(v []byte, n int) int {
	for n > 0 && n < len(v) && !utf8.RuneStart(v[n]) {
		n--
	}
	return n
}

// originalHeaders copies hs, cutting long keys and values and stopping at maxOriginalHeader
// encoded bytes; it reports whether anything was cut or left out.
func originalHeaders(hs []kgo.RecordHeader) (map[string]string, bool) {
	if len(hs) == 0 {
		return nil, false
	}
	out := make(map[string]string, len(hs))
	cut, size := false, 0
	for _, h := range hs {
		k, v := cutText(h.Key, maxHeaderKey), cutText(string(h.Value), maxHeaderValue)
		cut = cut || k != h.Key || v != string(h.Value)
		ek, _ := json.Marshal(k)
		ev, _ := json.Marshal(v)
		if size += len(ek) + len(ev) + 2; size > maxOriginalHeader {
			return out, true
		}
		out[k] = v
	}
	return out, cut
}

// cutText cuts s to at most n bytes, between runes.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeStart([]byte(s), n)]
}

func marshal(rec *schemas.DLQRecord) []byte {
	b, err := json.Marshal(rec)
	if err != nil {
		// Only a bug could make a struct of strings and numbers unmarshalable.
		panic(fmt.Sprintf("dlq: marshal record: %v", err))
	}
	return b
}
