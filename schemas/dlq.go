package schemas

import "time"

// DLQ reasons.
const (
	DLQInvalidJSON     = "invalid_json"
	DLQSchemaViolation = "schema_violation"
	DLQKeyMismatch     = "key_mismatch"
	DLQUnsupportedType = "unsupported_type"
	DLQUnprocessable   = "unprocessable"
	// DLQPartitionMismatch: a keyed record on another partition than Kafka's murmur2 hash of
	// its key gives, so it could be ordered wrongly against the key's other records.
	DLQPartitionMismatch = "partition_mismatch"
)

// DLQRecord is the value of a strike.dlq.v1 record (dlq-record.v1.json).
type DLQRecord struct {
	Reason              string            `json:"reason"`
	Error               string            `json:"error"`
	Consumer            string            `json:"consumer"`
	Origin              DLQOrigin         `json:"origin"`
	OriginalValue       *string           `json:"original_value,omitempty"`
	OriginalValueBase64 string            `json:"original_value_base64,omitempty"`
	OriginalHeaders     map[string]string `json:"original_headers,omitempty"`
	FailedAt            time.Time         `json:"failed_at"`
	// The fields below are set only when the original had to be cut to keep the DLQ record
	// under the broker's size limit, so a record that fits whole is exactly as before.
	OriginalTruncated        bool   `json:"original_truncated,omitempty"`
	OriginalSize             int    `json:"original_size,omitempty"`
	OriginalSHA256           string `json:"original_sha256,omitempty"`
	OriginalHeadersTruncated bool   `json:"original_headers_truncated,omitempty"`
}

// DLQOrigin is where the failed record came from.
type DLQOrigin struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Offset    int64      `json:"offset"`
	Timestamp *time.Time `json:"timestamp,omitempty"`
}
