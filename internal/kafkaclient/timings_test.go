package kafkaclient_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
)

// Every client gets the failover timings (docs/operations.md, "Stopping and failover"): a dead member leaves its group
// after 6 s and its open transaction is aborted after 5 s, within the ≤ 10 s failover target;
// kgo's defaults (45 s and 40 s) took 50 s, and its 5 s fetch wait added up to 5 s more
// (BenchmarkFailover in cmd/strike).
func TestOptionsCarryTheFailoverTimings(t *testing.T) {
	cl, err := kgo.NewClient(append(kafkaclient.Options("127.0.0.1:1", kafkaclient.Security{}, "test", zerolog.Nop(), nil),
		kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, c := range []struct {
		opt  any
		want time.Duration
	}{
		{kgo.SessionTimeout, 6 * time.Second},
		{kgo.HeartbeatInterval, 500 * time.Millisecond},
		{kgo.TransactionTimeout, 5 * time.Second},
		{kgo.FetchMaxWait, time.Second},
	} {
		if got := cl.OptValue(c.opt); got != c.want {
			t.Errorf("%T option = %v, want %v", c.opt, got, c.want)
		}
	}
}
