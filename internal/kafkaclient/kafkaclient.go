// Package kafkaclient holds the kgo options every Strike client shares: brokers, security (TLS,
// SASL), logging through zerolog, client metrics through kprom on the registry passed in.
package kafkaclient

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kzerolog"
)

// DefaultBrokers is where `strike dev` listens.
const DefaultBrokers = "127.0.0.1:9092"

// Failover timings of every group member and transactional producer. A member that dies
// (SIGKILL, a lost node) is out of its group after DefaultSessionTimeout; the survivors learn of
// the rebalance at their next heartbeat; the dead member's open transaction, which would hold
// back read-committed consumers and the stable offsets its successor must fetch, is aborted by
// the broker after DefaultTransactionTimeout (Strike's transactions last milliseconds). Together
// they keep failover within the 10 s target; kgo's defaults (45 s session, 40 s transaction)
// took 50 s (BenchmarkFailover in cmd/strike, docs/benchmarks.md). 6 s is Kafka's default
// group.min.session.timeout.ms, so no broker setting needs changing.
//
// DefaultFetchMaxWait bounds a fetch's long poll. A client has one fetch in flight per broker,
// and partitions assigned to it mid-poll are fetched only by the next request, so kgo's default
// (5 s) added up to 5 s to every failover of an idle survivor. A fetch still returns as soon as
// records arrive; a shorter wait only costs an empty fetch per second when idle.
const (
	DefaultSessionTimeout     = 6 * time.Second
	DefaultHeartbeatInterval  = 500 * time.Millisecond
	DefaultTransactionTimeout = 5 * time.Second
	DefaultFetchMaxWait       = time.Second
)

// Options returns the base options for a client named name (e.g. "eco-processor"): the seed
// brokers, the connection's security (TLS, SASL; the zero Security is plaintext), logging, the
// failover timings (used only by group members and transactional producers; later options
// override them), and kprom metrics registered under strike_kafka_<name>_… (reg may be nil to
// skip metrics).
func Options(brokers string, sec Security, name string, log zerolog.Logger, reg prometheus.Registerer) []kgo.Opt {
	l := log.With().Str("kafka_client", name).Logger()
	opts := []kgo.Opt{
		kgo.SeedBrokers(SplitBrokers(brokers)...),
		kgo.ClientID("strike-" + name),
		kgo.WithLogger(kzerolog.New(&l)),
		kgo.SessionTimeout(DefaultSessionTimeout),
		kgo.HeartbeatInterval(DefaultHeartbeatInterval),
		kgo.TransactionTimeout(DefaultTransactionTimeout),
		kgo.FetchMaxWait(DefaultFetchMaxWait),
	}
	opts = append(opts, sec.opts...)
	if reg != nil {
		m := kprom.NewMetrics("strike_kafka", kprom.Registerer(reg),
			kprom.Subsystem(strings.ReplaceAll(name, "-", "_")))
		opts = append(opts, kgo.WithHooks(m))
	}
	return opts
}

// SplitBrokers splits a comma-separated broker list, ignoring blanks.
func SplitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
