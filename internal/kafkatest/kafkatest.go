// Package kafkatest starts a real Kafka-protocol broker for tests, with Strike's topics created,
// so tests exercise the same client code as production. By default it is franz-go's kfake, in
// process. With STRIKE_TEST_BROKER=container it is a real Apache Kafka broker (KRaft) in a
// container started by testcontainers-go, for running the same suites where Docker exists
// (`make test-docker`).
//
// NewSecured's broker runs with SASL and ACLs on, as production does (DESIGN §5): tests connect
// as its superuser through Client and ReadAll, and give each component its own principal with
// only its own ACLs (Principal) and each NOC tool its own (NOC).
package kafkatest

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// Partitions is the partition count tests use: small, but more than one so ordering and
// co-partitioning are exercised.
const Partitions = 4

// Cluster is a running broker with Strike's topics. Cluster is nil for a container broker.
type Cluster struct {
	*kfake.Cluster
	Brokers string
	// Security is the superuser's on a secured broker, zero otherwise.
	Security kafkaclient.Security
	secured  bool
}

// The secured broker's superuser: PLAIN, which costs no key derivation per connection, so the
// helpers' many short-lived clients stay cheap. Components use SCRAM (Principal).
const (
	superuser     = "strike-test-admin"
	superPassword = "strike-test-admin-password"
	// Mechanism is the mechanism of Principal's and NOC's users.
	Mechanism = kafkaclient.MechScram512
)

// superusers maps a secured broker's address to its superuser's options, so Client and ReadAll,
// which take only the address, authenticate to it. Only NewSecured writes it.
var superusers sync.Map // string -> []kgo.Opt

// NewSecured is New with SASL and ACLs on (the container broker stays plaintext: its Security
// and every Principal are zero there).
func NewSecured(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	if os.Getenv("STRIKE_TEST_BROKER") == "container" {
		return newContainer(t)
	}
	sec, err := Superuser().Load()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(kafkaclient.MechPlain, superuser, superPassword)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	superusers.Store(brokers, sec.Opts())
	t.Cleanup(func() { superusers.Delete(brokers) })
	ensureTopics(t, brokers)
	return &Cluster{Cluster: c, Brokers: brokers, Security: sec, secured: true}
}

// Principal creates (or keeps) component's user, "strike-<component>", with only the ACLs
// kafkaacl gives it (ForComponent, and ForNOCPipeline for each of nocs), and returns how the
// component connects as it. Zero on a broker without SASL.
func (c *Cluster) Principal(t testing.TB, component string, nocs ...string) kafkaclient.Security {
	t.Helper()
	user := "strike-" + component
	gs, err := kafkaacl.ForComponent(component, "User:"+user)
	if err != nil {
		t.Fatal(err)
	}
	for _, noc := range nocs {
		gs = append(gs, kafkaacl.ForNOCPipeline(noc, func(c string) string { return "User:strike-" + c })...)
	}
	return c.user(t, user, gs)
}

// NOC creates (or keeps) noc's tool user, named noc, with only kafkaacl.ForNOC's ACLs.
func (c *Cluster) NOC(t testing.TB, noc string) kafkaclient.Security {
	t.Helper()
	return c.user(t, noc, kafkaacl.ForNOC(noc, "User:"+noc))
}

// Password is the password Principal and NOC give user.
func Password(user string) string { return "test-password-" + user }

func (c *Cluster) user(t testing.TB, user string, gs []kafkaacl.Grant) kafkaclient.Security {
	t.Helper()
	if !c.secured {
		return kafkaclient.Security{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(Client(t, c.Brokers))
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: Password(user)}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("kafkatest: user %s: %v", user, err)
	}
	if err := kafkaacl.Apply(ctx, adm, gs); err != nil {
		t.Fatalf("kafkatest: ACLs of %s: %v", user, err)
	}
	return as(t, user)
}

// as is how user connects with the mechanism and password Principal and NOC give it.
func as(t testing.TB, user string) kafkaclient.Security {
	t.Helper()
	sec, err := kafkaclient.Settings{Mechanism: Mechanism, Username: user, Password: Password(user)}.Load()
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// ClientAs is Client connecting as sec (a Principal or NOC) instead of the superuser.
func (c *Cluster) ClientAs(t testing.TB, sec kafkaclient.Security, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers)}, sec.Opts()...), opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// childSecuredEnv tells a test's child process (internal/childproc) whether its parent's broker
// is secured, so it connects as the principal the parent created (ChildPrincipal).
const childSecuredEnv = "STRIKE_TEST_KAFKA_SECURED"

// ChildEnv is the environment entry to pass a child process that connects to c.
func (c *Cluster) ChildEnv() string { return childSecuredEnv + "=" + strconv.FormatBool(c.secured) }

// ChildPrincipal is, in a child process started with ChildEnv, how component connects: as the
// principal its parent created with Principal, zero on a broker without SASL.
func ChildPrincipal(t testing.TB, component string) kafkaclient.Security {
	t.Helper()
	if os.Getenv(childSecuredEnv) != "true" {
		return kafkaclient.Security{}
	}
	return as(t, "strike-"+component)
}

// Superuser is the secured broker's superuser, for a command a test runs with flags.
func Superuser() kafkaclient.Settings {
	return kafkaclient.Settings{Mechanism: kafkaclient.MechPlain, Username: superuser, Password: superPassword}
}

// Opts is the superuser's connection options on a secured broker (nil otherwise), for clients a
// test builds itself.
func (c *Cluster) Opts() []kgo.Opt { return c.Security.Opts() }

// New starts a broker for one test and stops it when the test ends. kfake options apply only to
// the in-process broker.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	if os.Getenv("STRIKE_TEST_BROKER") == "container" {
		return newContainer(t)
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	ensureTopics(t, brokers)
	return &Cluster{Cluster: c, Brokers: brokers}
}

// newContainer starts a real Kafka broker in a container for one test.
func newContainer(t testing.TB) *Cluster {
	t.Helper()
	// testcontainers-go panics when it finds no Docker; say so plainly instead.
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("kafkatest: STRIKE_TEST_BROKER=container needs a Docker engine: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc, err := tckafka.Run(ctx, "confluentinc/confluent-local:7.5.0", tckafka.WithClusterID("strike-test"))
	if err != nil {
		t.Fatalf("kafkatest: start Kafka container (is Docker running?): %v", err)
	}
	t.Cleanup(func() { _ = testcontainers.TerminateContainer(kc) })
	brokers, err := kc.Brokers(ctx)
	if err != nil || len(brokers) == 0 {
		t.Fatalf("kafkatest: container brokers: %v", err)
	}
	ensureTopics(t, brokers[0])
	return &Cluster{Brokers: brokers[0]}
}

func ensureTopics(t testing.TB, brokers string) {
	t.Helper()
	// kadm's topic listing is served from kgo's metadata cache, which keeps the listing from
	// before the topics existed for MetadataMinAge (5 s by default): Ensure's check after
	// creating them waited that long in every test.
	cl := Client(t, brokers, kgo.MetadataMinAge(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Catalog(Partitions), -1); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
}

// Client returns a client for producing and reading in tests, closed with the test; on a
// secured broker it connects as the superuser.
func Client(t testing.TB, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(brokers)}
	if su, ok := superusers.Load(brokers); ok {
		base = append(base, su.([]kgo.Opt)...)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ReadAll consumes topic read-committed from the start until want records have arrived or
// timeout passes, and returns what it read.
func ReadAll(t testing.TB, brokers, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, brokers, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, fs.Records()...)
	}
	return out
}
