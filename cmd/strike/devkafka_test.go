package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// startDevBroker starts strike dev's broker (SASL and ACLs on) on dir, with its topics, users
// and ACLs, as runDev does.
func startDevBroker(t *testing.T, dir string) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(dir)}, devBrokerOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	admin, err := devAdminSecurity()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ensureTopics(ctx, brokers, admin, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := provisionDevKafka(ctx, brokers, admin); err != nil {
		t.Fatal(err)
	}
	if err := acceptLibrdkafkaSASL(ctx, c, brokers, admin); err != nil {
		t.Fatal(err)
	}
	return brokers
}

func devProduce(t *testing.T, brokers, user, password, topic string) error {
	return devProduceWithin(t, 10*time.Second, brokers, user, password, topic)
}

func devProduceWithin(t *testing.T, d time.Duration, brokers, user, password, topic string) error {
	t.Helper()
	sec, err := kafkaclient.Settings{Mechanism: devKafkaMechanism, Username: user, Password: password}.Load()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(sec.Opts(), kgo.SeedBrokers(brokers), kgo.RequestRetries(1), kgo.RetryTimeout(3*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(devdata.OSPAcme), Value: []byte(`{}`)}).FirstErr()
}

// strike dev's broker: each demo NOC tool's printed credentials write its own ingress and not
// the other NOC's nor an internal topic; a wrong password is refused. A restart on the same data
// folder keeps it so, and so does a folder written by a strike dev from before SASL (kfake keeps
// no users there).
func TestDevBrokerGivesEachNOCToolItsOwnCredentialsAndTopics(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "kafka")
	// A folder from an unsecured broker first.
	old, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	for run := range 2 {
		brokers := startDevBroker(t, dir)
		var printed bytes.Buffer
		if err := printDevKafkaCredentials(&printed, brokers); err != nil {
			t.Fatal(err)
		}
		nw, hb := devdata.NOCNorthwind, devdata.NOCHarbor
		pass := devKafkaPassword(nw)
		if !strings.Contains(printed.String(), pass) || !kafkaclient.IsDevPassword(pass) {
			t.Fatalf("run %d: printed credentials lack %s's dev password:\n%s", run, nw, printed.String())
		}
		if err := devProduce(t, brokers, nw, pass, topics.NOCIngress(nw)); err != nil {
			t.Errorf("run %d: %s writing its own ingress: %v", run, nw, err)
		}
		for _, forbidden := range []string{topics.NOCIngress(hb), topics.ECORequests, topics.TelephonyCallbacks, topics.ECOEvents} {
			if err := devProduce(t, brokers, nw, pass, forbidden); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("run %d: %s writing %s: %v, want TOPIC_AUTHORIZATION_FAILED", run, nw, forbidden, err)
			}
		}
		// kfake closes the connection on a wrong password (Kafka answers SASL_AUTHENTICATION_FAILED);
		// the record is never written either way.
		if err := devProduceWithin(t, 2*time.Second, brokers, nw, "guess", topics.NOCIngress(nw)); err == nil {
			t.Errorf("run %d: a wrong password wrote", run)
		}
		// The gateway's principal writes callbacks; a NOC's cannot (above).
		if err := devProduce(t, brokers, devComponentUser("gateway"), devKafkaPassword(devComponentUser("gateway")), topics.TelephonyCallbacks); err != nil {
			t.Errorf("run %d: the gateway writing callbacks: %v", run, err)
		}
	}
}

// A dev password is refused by `strike run` before it connects anywhere, as a dev API token is
// refused by a gateway outside strike dev. Not parallel: the password is process environment.
func TestStrikeRunRefusesADevKafkaPassword(t *testing.T) {
	t.Setenv("STRIKE_KAFKA_PASSWORD", devKafkaPassword(devComponentUser("sink")))
	_, err := runRenderAdminCLI(t, "", "run", "sink", "--brokers", "127.0.0.1:1", "--kafka-sasl-mechanism", "SCRAM-SHA-512",
		"--kafka-username", "strike-sink", "--ops-addr", "127.0.0.1:0", "--database-url", "postgres://127.0.0.1:1/none")
	if err == nil || !strings.Contains(err.Error(), "strike dev password") {
		t.Fatalf("err = %v, want a refusal of the strike dev password", err)
	}
	if strings.Contains(err.Error(), os.Getenv("STRIKE_KAFKA_PASSWORD")) {
		t.Error("the refusal shows the password")
	}
}

// kcat (librdkafka) with the printed credentials, as docs/topics.md shows: it authenticates with
// SCRAM, writes its NOC's ingress, and is refused on the other NOC's.
func TestKcatWithTheDevCredentials(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		// Under CI (.ci/run installs kcat) a missing kcat fails instead of skipping.
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatal("kcat is not installed (apt-get install kcat)")
		}
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	brokers := startDevBroker(t, filepath.Join(t.TempDir(), "kafka"))
	nw := devdata.NOCNorthwind
	produce := func(topic string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", brokers, "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanisms="+devKafkaMechanism, "-X", "sasl.username="+nw, "-X", "sasl.password="+devKafkaPassword(nw),
			"-X", "topic.partitioner=murmur2_random", "-t", topic, "-k", devdata.OSPAcme)
		cmd.Stdin = strings.NewReader("{}\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := produce(topics.NOCIngress(nw)); err != nil || strings.Contains(out, "failed") {
		t.Errorf("kcat writing %s's own ingress: %v\n%s", nw, err, out)
	}
	if out, _ := produce(topics.NOCIngress(devdata.NOCHarbor)); !strings.Contains(out, "Topic authorization failed") {
		t.Errorf("kcat writing another NOC's ingress: %q, want Topic authorization failed", out)
	}
}

// docs/topics.md's kcat lines carry the dev passwords; they must be the ones strike dev sets.
func TestTopicsDocUsesTheDevCredentials(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/topics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range devdata.NOCs {
		if !strings.Contains(string(doc), devKafkaPassword(n.ID)) {
			t.Errorf("docs/topics.md lacks %s's dev Kafka password %s", n.ID, devKafkaPassword(n.ID))
		}
	}
}
