package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/topics"
)

// At start, each component connected as its own principal with only its own ACLs passes the
// check; a principal that lacks one ACL is stopped with a message naming exactly what it
// lacks; a wrong password is stopped with a message naming the mechanism and the user (and not
// the password).
func TestAComponentStartsOnlyWithItsCredentialsAndEveryACLItNeeds(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	ctx := context.Background()
	for _, c := range kafkaacl.Components {
		if err := verifyComponent(ctx, k.Brokers, k.Principal(t, c), c); err != nil {
			t.Errorf("%s with its own ACLs: %v", c, err)
		}
	}

	// The sink's principal, minus its write on the DLQ.
	sink := k.Principal(t, "sink")
	adm := kadm.NewClient(kafkatest.Client(t, k.Brokers))
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:strike-sink").AllowHosts("*").
		Topics(topics.DLQ).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	var missing *kafkaacl.MissingError
	err := verifyComponent(ctx, k.Brokers, sink, "sink")
	if !errors.As(err, &missing) || len(missing.Missing) != 1 ||
		missing.Missing[0].Resource != kmsg.ACLResourceTypeTopic || missing.Missing[0].Name != topics.DLQ || missing.Missing[0].Op != kadm.OpWrite {
		t.Fatalf("the sink without write on the DLQ: %v, want exactly that ACL named", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "WRITE on topic strike.dlq.v1") || !strings.Contains(msg, "as strike-sink") {
		t.Errorf("message %q: want it to name the ACL and the principal", msg)
	}

	// The dialer without its transactional ids (Write and Describe): named too.
	dialer := k.Principal(t, "dialer")
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:strike-dialer").AllowHosts("*").
		TransactionalIDs("strike-dialer").Operations(kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternPrefixed)); err != nil {
		t.Fatal(err)
	}
	if err := verifyComponent(ctx, k.Brokers, dialer, "dialer"); err == nil || !strings.Contains(err.Error(), "on transactional_id strike-dialer (prefixed)") {
		t.Errorf("the dialer without its transactional ids: %v, want them named", err)
	}

	wrong, err := kafkaclient.Settings{Mechanism: kafkatest.Mechanism, Username: "strike-sink", Password: "not-the-password"}.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Kafka answers a wrong password with SASL_AUTHENTICATION_FAILED, which kgo does not retry;
	// kfake closes the connection, which kgo retries until the start-up check's deadline (30 s),
	// so the test gives it less.
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = verifyComponent(short, k.Brokers, wrong, "sink")
	if err == nil || !strings.Contains(err.Error(), "SASL SCRAM-SHA-512 as strike-sink") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("a wrong password: %v, want an error naming the mechanism and user, never the password", err)
	}
}

// strike topics verifies the ACLs too: on a secured cluster without them it fails listing each
// missing one; after `strike kafka access --apply` it passes; one ACL removed is named. Not
// parallel: the password is process environment.
func TestStrikeTopicsVerifiesTheACLs(t *testing.T) {
	k := kafkatest.NewSecured(t)
	su := kafkatest.Superuser()
	t.Setenv("STRIKE_KAFKA_PASSWORD", su.Password)
	conn := []string{"--brokers", k.Brokers, "--kafka-sasl-mechanism", su.Mechanism, "--kafka-username", su.Username}
	topicsCmd := append([]string{"topics", "--verify-only", "--partitions", "4"}, conn...)
	out, err := runRenderAdminCLI(t, "", append([]string{"kafka", "access", "--noc", "noc-a"}, conn...)...)
	if err != nil {
		t.Fatalf("print only: %v\n%s", err, out)
	}
	// The NOC's topics exist (so its ACLs are expected), no ACL does.
	if _, err := kadm.NewClient(kafkatest.Client(t, k.Brokers)).CreateTopics(context.Background(), 4, -1, nil,
		topics.NOCIngress("noc-a"), topics.NOCEgress("noc-a")); err != nil {
		t.Fatal(err)
	}
	out, err = runRenderAdminCLI(t, "", topicsCmd...)
	if err == nil || !strings.Contains(err.Error(), "ACLs are missing") || !strings.Contains(err.Error(), "User:noc-a") ||
		!strings.Contains(err.Error(), "User:strike-sink") {
		t.Fatalf("without ACLs: %v\n%s", err, out)
	}

	out, err = runRenderAdminCLI(t, "", append([]string{"kafka", "access", "--noc", "noc-a", "--components", "--apply"}, conn...)...)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err = runRenderAdminCLI(t, "", topicsCmd...)
	if err != nil || !strings.Contains(out, "ACLs: all") || !strings.Contains(out, "NOCs: noc-a") {
		t.Fatalf("with the ACLs applied: %v\n%s", err, out)
	}

	if _, err := kadm.NewClient(kafkatest.Client(t, k.Brokers)).DeleteACLs(context.Background(), kadm.NewACLs().Allow("User:noc-a").AllowHosts("*").
		Topics(topics.NOCIngress("noc-a")).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	_, err = runRenderAdminCLI(t, "", topicsCmd...)
	if err == nil || !strings.Contains(err.Error(), "1 of") || !strings.Contains(err.Error(), topics.NOCIngress("noc-a")) {
		t.Fatalf("one ACL removed: %v, want it named", err)
	}
}

// The whole start-up path: `strike run sink` as a principal that lacks one ACL exits at once
// with the message naming it, before consuming anything. Not parallel: the password is process
// environment.
func TestStrikeRunStopsAtStartNamingAMissingACL(t *testing.T) {
	k := kafkatest.NewSecured(t)
	db := pgtest.New(t)
	k.Principal(t, "sink")
	if _, err := kadm.NewClient(kafkatest.Client(t, k.Brokers)).DeleteACLs(context.Background(), kadm.NewACLs().Allow("User:strike-sink").AllowHosts("*").
		Groups("strike-sink").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STRIKE_KAFKA_PASSWORD", kafkatest.Password("strike-sink"))
	start := time.Now()
	_, err := runRenderAdminCLI(t, "", "run", "sink", "--brokers", k.Brokers, "--kafka-sasl-mechanism", kafkatest.Mechanism,
		"--kafka-username", "strike-sink", "--database-url", db.URL, "--ops-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "READ on group strike-sink (prefixed)") {
		t.Fatalf("strike run sink = %v, want a stop naming the group ACL", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("it took %v to stop", d)
	}
}
