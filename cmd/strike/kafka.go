package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// kafkaFlags are the connection settings of every command that talks to Kafka: the same flags
// and environment variables everywhere (docs/topics.md, "Connecting"). Secrets come from the
// environment only, never a flag, so they stay out of process listings and shell history.
type kafkaFlags struct {
	brokers string
	kafkaclient.Settings
}

func (k *kafkaFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.brokers, "brokers", env("STRIKE_KAFKA_BROKERS", kafkaclient.DefaultBrokers), "Kafka seed brokers, comma-separated (STRIKE_KAFKA_BROKERS)")
	f.BoolVar(&k.TLS, "kafka-tls", env("STRIKE_KAFKA_TLS", "") == "true", "connect to Kafka over TLS (STRIKE_KAFKA_TLS=true)")
	f.StringVar(&k.CAFile, "kafka-ca-file", env("STRIKE_KAFKA_CA_FILE", ""), "PEM file of the CA that signed the brokers' certificates; default the system roots (STRIKE_KAFKA_CA_FILE)")
	f.StringVar(&k.CertFile, "kafka-cert-file", env("STRIKE_KAFKA_CERT_FILE", ""), "PEM client certificate for mTLS (STRIKE_KAFKA_CERT_FILE)")
	f.StringVar(&k.KeyFile, "kafka-key-file", env("STRIKE_KAFKA_KEY_FILE", ""), "PEM key of the client certificate (STRIKE_KAFKA_KEY_FILE)")
	f.StringVar(&k.ServerName, "kafka-server-name", env("STRIKE_KAFKA_SERVER_NAME", ""), "name to check in the brokers' certificates, if not the host dialled (STRIKE_KAFKA_SERVER_NAME)")
	f.StringVar(&k.Mechanism, "kafka-sasl-mechanism", env("STRIKE_KAFKA_SASL_MECHANISM", ""), "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM; empty = none (STRIKE_KAFKA_SASL_MECHANISM)")
	f.StringVar(&k.Username, "kafka-username", env("STRIKE_KAFKA_USERNAME", ""), "SASL username for PLAIN and SCRAM; the password is read from STRIKE_KAFKA_PASSWORD (STRIKE_KAFKA_USERNAME)")
	f.StringVar(&k.TokenURL, "kafka-oauth-token-url", env("STRIKE_KAFKA_OAUTH_TOKEN_URL", ""), "OAUTHBEARER: the token endpoint of the client-credentials grant (STRIKE_KAFKA_OAUTH_TOKEN_URL)")
	f.StringVar(&k.ClientID, "kafka-oauth-client-id", env("STRIKE_KAFKA_OAUTH_CLIENT_ID", ""), "OAUTHBEARER client id; the secret is read from STRIKE_KAFKA_OAUTH_CLIENT_SECRET (STRIKE_KAFKA_OAUTH_CLIENT_ID)")
	f.StringVar(&k.Scopes, "kafka-oauth-scopes", env("STRIKE_KAFKA_OAUTH_SCOPES", ""), "OAUTHBEARER scopes, comma-separated (STRIKE_KAFKA_OAUTH_SCOPES)")
	k.Password = os.Getenv("STRIKE_KAFKA_PASSWORD")
	k.ClientSecret = os.Getenv("STRIKE_KAFKA_OAUTH_CLIENT_SECRET")
	// AWS_MSK_IAM signs with the standard AWS variables.
	k.AccessKeyID, k.SecretAccessKey, k.SessionToken = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
}

// load checks the settings and reads the certificate files.
func (k kafkaFlags) load() (kafkaclient.Security, error) {
	sec, err := k.Settings.Load()
	if err != nil {
		return sec, fmt.Errorf("kafka connection settings: %w", err)
	}
	return sec, nil
}

// adminClient connects an admin client with the shared settings.
func adminClient(brokers string, sec kafkaclient.Security, name string, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append(kafkaclient.Options(brokers, sec, name, zerolog.Nop(), nil), opts...)...)
}

// explainKafka turns the errors a misconfigured connection gives into a sentence naming what
// failed: credentials, a missing ACL, or brokers that do not answer.
func explainKafka(err error, brokers string, sec kafkaclient.Security) error {
	if err == nil {
		return nil
	}
	// The same classification as every consumer's (kafkaclient.Fatal).
	if fe, ok := kafkaclient.Fatal(err).(*kafkaclient.FatalError); ok {
		if fe.Credentials() {
			return fmt.Errorf("kafka at %s refused the credentials (%s): %w", brokers, sec, err)
		}
		return fmt.Errorf("kafka at %s: the principal (%s) lacks an ACL this component needs: %w", brokers, sec, err)
	}
	return fmt.Errorf("kafka at %s (%s): %w", brokers, sec, err)
}

// verifyComponent refuses to start component on a cluster it cannot authenticate to, where its
// principal lacks one of the ACLs kafkaacl gives the component (each missing one is named), or
// whose topics (those the component uses) do not match the catalogue's partition counts,
// cleanup policies or co-partitioning.
func verifyComponent(ctx context.Context, brokers string, sec kafkaclient.Security, component string) error {
	gs, err := kafkaacl.ForComponent(component, "")
	if err != nil {
		return err
	}
	cl, err := adminClient(brokers, sec, "verify")
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if err := kafkaacl.Check(ctx, adm, gs); err != nil {
		return explainKafka(fmt.Errorf("%s: %w", component, err), brokers, sec)
	}
	return explainKafka(verifyTopicsOf(ctx, adm, kafkaacl.Topics(gs)), brokers, sec)
}

// verifyTopicsOf verifies the catalogue's specs of names, at the partition count the cluster was
// created with (that of the first of names that exists).
func verifyTopicsOf(ctx context.Context, adm *kadm.Client, names []string) error {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return err
	}
	n := int32(topics.DefaultPartitions)
	for _, name := range names {
		if d, ok := details[name]; ok && d.Err == nil {
			n = int32(len(d.Partitions))
			break
		}
	}
	var specs []topics.Spec
	for _, s := range topics.Catalog(n) {
		if slices.Contains(names, s.Name) {
			specs = append(specs, s)
		}
	}
	return topics.Verify(ctx, adm, specs)
}
