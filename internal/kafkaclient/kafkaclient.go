// Package kafkaclient holds the kgo options every Strike client shares: brokers, security (TLS,
// SASL), logging through zerolog, client metrics through kprom on the registry passed in.
package kafkaclient

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kzerolog"
)

// DefaultBrokers is where `strike dev` listens.
const DefaultBrokers = "127.0.0.1:9092"

// Options returns the base options for a client named name (e.g. "eco-processor"): the seed
// brokers, the connection's security (TLS, SASL; the zero Security is plaintext), logging, and
// kprom metrics registered under strike_kafka_<name>_… (reg may be nil to skip metrics).
func Options(brokers string, sec Security, name string, log zerolog.Logger, reg prometheus.Registerer) []kgo.Opt {
	l := log.With().Str("kafka_client", name).Logger()
	opts := []kgo.Opt{
		kgo.SeedBrokers(SplitBrokers(brokers)...),
		kgo.ClientID("strike-" + name),
		kgo.WithLogger(kzerolog.New(&l)),
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
