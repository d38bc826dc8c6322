package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// The command wires its flags to the replay: a dry run with a reason filter lists the one
// record it selects, the truncated one as skipped, and the summary.
func TestDLQReplayCommandDryRun(t *testing.T) {
	t.Parallel()
	k := kafkatest.New(t)
	cl := kafkatest.Client(t, k.Brokers)
	now := time.Now()
	for _, in := range []*kgo.Record{
		{Topic: topics.ECORequests, Key: []byte("osp-a"), Value: []byte(`{}`), Offset: 7},
		{Topic: topics.ECORequests, Key: []byte("osp-b"), Value: bytes.Repeat([]byte("x"), 2*dlq.MaxValueBytes), Offset: 8},
	} {
		if err := cl.ProduceSync(context.Background(), dlq.Record("eco-processor", in, schemas.DLQInvalidJSON, errors.New("x"), now)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"dlq", "replay", "--brokers", k.Brokers, "--reason", "invalid_json,key_mismatch", "--since", "1h", "--dry-run"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, w := range []string{
		`would replay strike.dlq.v1/`, `key="osp-a" reason=invalid_json consumer=eco-processor origin=strike.eco.requests.v1/0/7 -> strike.eco.requests.v1`,
		`SKIP (original value truncated)`, "read 2, selected 2, would replay 1, skipped 1 (cannot be replayed)",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("output lacks %q:\n%s", w, s)
		}
	}
	if !strings.Contains(errOut.String(), "dlq replay:") {
		t.Errorf("no progress on stderr: %q", errOut.String())
	}
	if got := kafkatest.ReadAll(t, k.Brokers, topics.ECORequests, 1, time.Second); len(got) != 0 {
		t.Errorf("a dry run produced %d records", len(got))
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	if got, err := parseSince("24h", now); err != nil || !got.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("24h: %v %v", got, err)
	}
	if got, err := parseSince("2026-01-01T00:00:00Z", now); err != nil || !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("rfc3339: %v %v", got, err)
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday parsed")
	}
}
