// Package cloudevents reads and writes the CloudEvents Kafka binding's binary-mode headers that
// every Strike record carries: ce_id, ce_type, ce_source, ce_time, ce_specversion, content-type
// (and ce_subject when set). The value is the event data itself, a JSON document.
package cloudevents

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SpecVersion is the CloudEvents version Strike writes.
const SpecVersion = "1.0"

// ContentType is the content type of every Strike value.
const ContentType = "application/json"

// Header names of the binary-mode binding.
const (
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderTime        = "ce_time"
	HeaderSpecVersion = "ce_specversion"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"
)

// Event is the metadata of one event.
type Event struct {
	ID      string
	Type    string
	Source  string // e.g. "strike/eco-processor"
	Subject string // optional, e.g. the ECO id
	Time    time.Time
}

// Record builds a record for topic with the event's headers, key and JSON value.
func Record(topic, key string, e Event, value []byte) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, 7)
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderSpecVersion, Value: []byte(SpecVersion)},
		kgo.RecordHeader{Key: HeaderID, Value: []byte(e.ID)},
		kgo.RecordHeader{Key: HeaderType, Value: []byte(e.Type)},
		kgo.RecordHeader{Key: HeaderSource, Value: []byte(e.Source)},
		kgo.RecordHeader{Key: HeaderTime, Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
		kgo.RecordHeader{Key: HeaderContentType, Value: []byte(ContentType)},
	)
	if e.Subject != "" {
		hs = append(hs, kgo.RecordHeader{Key: HeaderSubject, Value: []byte(e.Subject)})
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: hs}
}

// Header returns the value of the first header named key, and whether it was there.
func Header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// Parse reads the event metadata from r's headers. Missing headers leave their fields empty;
// a ce_time that does not parse leaves Time zero.
func Parse(r *kgo.Record) Event {
	var e Event
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderID:
			e.ID = string(h.Value)
		case HeaderType:
			e.Type = string(h.Value)
		case HeaderSource:
			e.Source = string(h.Value)
		case HeaderSubject:
			e.Subject = string(h.Value)
		case HeaderTime:
			e.Time, _ = time.Parse(time.RFC3339Nano, string(h.Value))
		}
	}
	return e
}
