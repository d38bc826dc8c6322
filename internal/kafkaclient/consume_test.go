package kafkaclient_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
)

func TestClassifyStopsOnAuthAndUnmarkedErrorsAndRetriesTransientOnes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want kafkaclient.Class
	}{
		{"a transient failure", kafkaclient.Transient(errors.New("postgres down")), kafkaclient.Retry},
		{"a missing topic ACL inside a transient failure", kafkaclient.Transient(fmt.Errorf("produce: %w", kerr.TopicAuthorizationFailed)), kafkaclient.Stop},
		{"a missing group ACL", kerr.GroupAuthorizationFailed, kafkaclient.Stop},
		{"a missing transactional id ACL", fmt.Errorf("begin: %w", kerr.TransactionalIDAuthorizationFailed), kafkaclient.Stop},
		{"wrong credentials", kafkaclient.Transient(kerr.SaslAuthenticationFailed), kafkaclient.Stop},
		{"an unexpected error", errors.New("fenced"), kafkaclient.Stop},
	}
	for _, tt := range tests {
		if got := kafkaclient.Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
	if fe := kafkaclient.Fatal(kafkaclient.Transient(kerr.SaslAuthenticationFailed)); fe == nil || fe.Error()[:34] != "kafka refused the credentials (che" {
		t.Errorf("Fatal(wrong credentials) = %v", fe)
	}
}

// A consumer whose principal may not read its topic stops with an error naming the missing
// ACL, instead of polling forever.
func TestTheLoopStopsWhenThePrincipalMayNotRead(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	// The sink's principal reads eco.events, not eco.requests.
	cl := k.ClientAs(t, k.Principal(t, "sink"), kgo.ConsumeTopics(topics.ECORequests), kgo.RequestRetries(1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := kafkaclient.Loop{Name: "test", Log: zerolog.Nop(),
		Poll:   func(ctx context.Context) kgo.Fetches { return cl.PollFetches(ctx) },
		Handle: func(context.Context, []*kgo.Record) error { return nil },
	}.Run(ctx)
	var fe *kafkaclient.FatalError
	if !errors.As(err, &fe) || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Run = %v, want a FatalError with TOPIC_AUTHORIZATION_FAILED", err)
	}
	if ctx.Err() != nil {
		t.Error("it stopped only at the test's deadline")
	}
}

// A transient failure of a batch nothing rewinds is retried with the same records; an unmarked
// failure stops the loop.
func TestTheLoopRetriesTheSameBatchAndStopsOnAnUnmarkedFailure(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	prod := kafkatest.Client(t, k.Brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topics.DLQ, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, k.Brokers, kgo.ConsumeTopics(topics.DLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var calls []int64
	err := kafkaclient.Loop{Name: "test", Log: zerolog.Nop(), SameBatch: true,
		Poll: func(ctx context.Context) kgo.Fetches { return cl.PollFetches(ctx) },
		Handle: func(_ context.Context, recs []*kgo.Record) error {
			calls = append(calls, recs[0].Offset)
			if len(calls) < 3 {
				return kafkaclient.Transient(errors.New("postgres down"))
			}
			return errors.New("a bug")
		},
	}.Run(ctx)
	if err == nil || err.Error() != "test: a bug" {
		t.Errorf("Run = %v, want it stopped by the unmarked error", err)
	}
	if fmt.Sprint(calls) != "[0 0 0]" {
		t.Errorf("Handle got offsets %v, want the same batch three times", calls)
	}
}
