package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// devKafkaAdmin is the superuser of strike dev's broker: it creates the topics, the users and
// their ACLs, and reads consumer lag. Everything else connects as its own principal.
const devKafkaAdmin = "strike-dev-admin"

// devKafkaMechanism is the mechanism of every dev principal but the admin.
const devKafkaMechanism = kafkaclient.MechScram512

// devKafkaPassword is a dev principal's password: derived from the public dev seed (like the dev
// API tokens), the same at every start, refused by `strike run` (kafkaclient.IsDevPassword).
func devKafkaPassword(user string) string { return kafkaclient.DevPassword(devSeed, user) }

// devComponentUser is a component's principal name, `strike kafka access`'s default pattern.
func devComponentUser(component string) string { return "strike-" + component }

// devBrokerOpts turn SASL and ACLs on. The admin is a PLAIN superuser because kfake reloads
// SCRAM users from the data folder in place of configured ones (a folder from before SASL has
// none) but keeps a configured PLAIN user the folder lacks; the SCRAM users are upserted at
// every start instead (provisionDevKafka).
func devBrokerOpts() []kfake.Opt {
	return []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(kafkaclient.MechPlain, devKafkaAdmin, devKafkaPassword(devKafkaAdmin))}
}

func devAdminSecurity() (kafkaclient.Security, error) {
	return kafkaclient.Settings{Mechanism: kafkaclient.MechPlain, Username: devKafkaAdmin, Password: devKafkaPassword(devKafkaAdmin)}.Load()
}

func devUserSecurity(user string) (kafkaclient.Security, error) {
	return kafkaclient.Settings{Mechanism: devKafkaMechanism, Username: user, Password: devKafkaPassword(user)}.Load()
}

// provisionDevKafka gives every component and every demo NOC tool a SCRAM user with only its
// own ACLs (kafkaacl), idempotently, and returns each component's connection security.
func provisionDevKafka(ctx context.Context, brokers string, admin kafkaclient.Security) (map[string]kafkaclient.Security, error) {
	cl, err := adminClient(brokers, admin, "dev-access")
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var (
		users []kadm.UpsertSCRAM
		gs    []kafkaacl.Grant
		secs  = map[string]kafkaclient.Security{}
	)
	upsert := func(user string) {
		users = append(users, kadm.UpsertSCRAM{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: devKafkaPassword(user)})
	}
	principal := func(c string) string { return "User:" + devComponentUser(c) }
	for _, c := range kafkaacl.Components {
		u := devComponentUser(c)
		upsert(u)
		g, err := kafkaacl.ForComponent(c, principal(c))
		if err != nil {
			return nil, err
		}
		gs = append(gs, g...)
		if secs[c], err = devUserSecurity(u); err != nil {
			return nil, err
		}
	}
	for _, n := range devdata.NOCs {
		upsert(n.ID)
		gs = append(gs, kafkaacl.ForNOC(n.ID, "User:"+n.ID)...)
		gs = append(gs, kafkaacl.ForNOCPipeline(n.ID, principal)...)
	}
	adm := kadm.NewClient(cl)
	res, err := adm.AlterUserSCRAMs(ctx, nil, users)
	if err != nil {
		return nil, explainKafka(fmt.Errorf("create the dev SASL users: %w", err), brokers, admin)
	}
	for _, r := range res.Sorted() {
		if r.Err != nil {
			return nil, fmt.Errorf("create the dev SASL user %s: %w (%s)", r.User, r.Err, r.ErrMessage)
		}
	}
	if err := kafkaacl.Apply(ctx, adm, gs); err != nil {
		return nil, explainKafka(err, brokers, admin)
	}
	return secs, nil
}

// acceptLibrdkafkaSASL lets librdkafka clients (kcat, confluent-kafka-python/-go/-dotnet,
// node-rdkafka) authenticate to the dev broker. librdkafka 2.x enables SASL only when the
// broker's ApiVersions lists SaslHandshake v0; kfake serves v1 alone (what every client since
// Kafka 1.0 sends, librdkafka included once it has decided to authenticate). So strike dev
// answers ApiVersions from a client that names itself librdkafka with kfake's own answer,
// SaslHandshake widened to 0..1. Other clients get kfake's answer untouched.
func acceptLibrdkafkaSASL(ctx context.Context, c *kfake.Cluster, brokers string, admin kafkaclient.Security) error {
	cl, err := adminClient(brokers, admin, "dev-apiversions")
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	base, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("read the dev broker's API versions: %w", err)
	}
	keys := slices.Clone(base.ApiKeys)
	for i := range keys {
		if keys[i].ApiKey == int16(kmsg.SASLHandshake) {
			keys[i].MinVersion = 0
		}
	}
	c.ControlKey(int16(kmsg.ApiVersions), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ApiVersionsRequest)
		if req.ClientSoftwareName != "librdkafka" || req.Version > base.Version {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = slices.Clone(keys)
		resp.SupportedFeatures, resp.FinalizedFeatures = base.SupportedFeatures, base.FinalizedFeatures
		resp.FinalizedFeaturesEpoch = base.FinalizedFeaturesEpoch
		return resp, nil, true
	})
	return nil
}

// printDevKafkaCredentials lists each demo NOC tool's Kafka credentials, beside the API tokens.
func printDevKafkaCredentials(w io.Writer, brokers string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kafka NOC tools (DEV-ONLY %s credentials, derived from a public seed; the same at every start):\n\n", devKafkaMechanism)
	for _, n := range devdata.NOCs {
		fmt.Fprintf(&b, "  %-14s user %-14s password %s\n", n.ID, n.ID, devKafkaPassword(n.ID))
	}
	n := devdata.NOCs[0].ID
	fmt.Fprintf(&b, `
  Each writes only strike.noc.<noc>.requests.v1 and reads only strike.noc.<noc>.outcomes.v1
  (consumer groups named <noc>-...). Try:

  STRIKE_KAFKA_PASSWORD=%s go run ./cmd/strike eco submit \
      --brokers %s --kafka-sasl-mechanism %s --kafka-username %s --noc %s --osp %s --region %s \
      --priority P1 --site "Exchange 7" --summary "Fibre cut on ring 4" --wait

  kcat -b %s -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=%s \
      -X sasl.username=%s -X sasl.password=%s \
      -G %s-board -C -o beginning %s

  Operators: user %s (PLAIN, superuser) password %s

`, devKafkaPassword(n), brokers, devKafkaMechanism, n, n, devdata.OSPAcme, devdata.RegionMetro,
		brokers, devKafkaMechanism, n, devKafkaPassword(n), n, topics.NOCEgress(n),
		devKafkaAdmin, devKafkaPassword(devKafkaAdmin))
	_, err := io.WriteString(w, b.String())
	return err
}
