package dlq_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/schemas"
)

// Whatever the input, the DLQ record fits: its value within MaxValueBytes, its key and headers
// small; a cut original keeps its size and hash, and what is kept is a prefix of it.
func TestRecordsAlwaysFit(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	big := 1_000_000
	many := make([]kgo.RecordHeader, 200)
	for i := range many {
		many[i] = kgo.RecordHeader{Key: strings.Repeat("k", 300) + string(rune('a'+i%26)) + strings.Repeat("x", i), Value: bytes.Repeat([]byte{'<'}, 5000)}
	}
	cases := []struct {
		name   string
		in     *kgo.Record
		cause  error
		cut    bool
		base64 bool
	}{
		{"small", &kgo.Record{Key: []byte("osp-a"), Value: []byte(`{"a":1}`)}, errors.New("bad"), false, false},
		{"HTML-escaped", &kgo.Record{Value: bytes.Repeat([]byte{'<'}, big)}, errors.New("bad"), true, false},
		{"control characters", &kgo.Record{Value: bytes.Repeat([]byte{1}, big)}, errors.New("bad"), true, false},
		{"multi-byte runes", &kgo.Record{Value: []byte(strings.Repeat("é€😀", big/9))}, errors.New("bad"), true, false},
		{"not UTF-8", &kgo.Record{Value: bytes.Repeat([]byte{0xff, 0xfe}, big/2)}, errors.New("bad"), true, true},
		{"huge key, headers and error", &kgo.Record{Key: bytes.Repeat([]byte{'k'}, big), Value: []byte(`{}`), Headers: many},
			errors.New(strings.Repeat("<", big)), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Topic, c.in.Partition, c.in.Offset = "t", 1, 2
			out := dlq.Record("test", c.in, schemas.DLQSchemaViolation, c.cause, time.Unix(0, 0))
			size := len(out.Key) + len(out.Value)
			for _, h := range out.Headers {
				size += len(h.Key) + len(h.Value)
			}
			if len(out.Value) > dlq.MaxValueBytes || size > dlq.MaxValueBytes+4<<10 {
				t.Errorf("value %d bytes, record %d bytes: too large", len(out.Value), size)
			}
			if err := v.Validate(schemas.TypeDLQRecord, out.Value); err != nil {
				t.Errorf("schema: %v", err)
			}
			var rec schemas.DLQRecord
			if err := json.Unmarshal(out.Value, &rec); err != nil {
				t.Fatal(err)
			}
			kept := []byte(nil)
			if rec.OriginalValue != nil {
				kept = []byte(*rec.OriginalValue)
			} else if kept, err = base64.StdEncoding.DecodeString(rec.OriginalValueBase64); err != nil {
				t.Fatal(err)
			}
			if c.base64 != (rec.OriginalValue == nil) {
				t.Errorf("base64 = %v, want %v", rec.OriginalValue == nil, c.base64)
			}
			sum := sha256.Sum256(c.in.Value)
			if size, _ := cloudevents.Header(out, dlq.HeaderOriginalSHA256); size != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 header %q", size)
			}
			if rec.OriginalTruncated != c.cut {
				t.Fatalf("truncated = %v, want %v", rec.OriginalTruncated, c.cut)
			}
			if !c.cut {
				if !bytes.Equal(kept, c.in.Value) || rec.OriginalSize != 0 || rec.OriginalSHA256 != "" {
					t.Errorf("a record that fits whole must be as before: %+v", rec)
				}
				return
			}
			if !bytes.HasPrefix(c.in.Value, kept) || len(kept) < dlq.MaxValueBytes/8 {
				t.Errorf("kept %d bytes, want a prefix of a useful length", len(kept))
			}
			if rec.OriginalSize != len(c.in.Value) || rec.OriginalSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("size %d sha256 %s", rec.OriginalSize, rec.OriginalSHA256)
			}
			if h, _ := cloudevents.Header(out, dlq.HeaderTruncated); h != "true" {
				t.Errorf("truncated header %q", h)
			}
		})
	}
}
