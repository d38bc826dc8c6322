package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/osprey-strike/strike/internal/kafkaclient"
)

// Not parallel: the password is process environment (never a flag).
func TestKafkaCredentialsComeFromOnePlaceAndAWrongOneStopsAtStart(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser(kafkaclient.MechScram512, "strike-admin", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	// No authorizer on this broker: the ACL check is another test's.
	args := []string{"topics", "--skip-acls", "--brokers", brokers, "--partitions", "2", "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-username", "strike-admin"}

	t.Setenv("STRIKE_KAFKA_PASSWORD", "not-the-password")
	out, err := runRenderAdminCLI(t, "", args...)
	if err == nil {
		t.Fatalf("a wrong password was accepted: %s", out)
	}
	if msg := err.Error(); !strings.Contains(msg, "SASL SCRAM-SHA-512 as strike-admin") || strings.Contains(msg+out, "not-the-password") {
		t.Errorf("error %q (output %q): want it to name the mechanism and user, never the password", msg, out)
	}

	t.Setenv("STRIKE_KAFKA_PASSWORD", "s3cret")
	out, err = runRenderAdminCLI(t, "", args...)
	if err != nil || !strings.Contains(out, "created:") {
		t.Fatalf("the right password: %v\n%s", err, out)
	}
}
