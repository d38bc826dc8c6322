package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/devpg"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
)

type devOpts struct {
	dataDir    string
	kafkaAddr  string
	httpAddr   string
	opsAddr    string
	dbURL      string
	partitions int32
	// reuseDatabase lets strike dev use a database it did not create (no devpg marker).
	reuseDatabase bool
}

func newDevCmd(g *globals) *cobra.Command {
	var o devOpts
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole pipeline in one process on an embedded Kafka broker (what 'make run' does)",
		Long: `Runs everything in one process for development and demos:

  - an embedded Kafka-protocol broker (franz-go's kfake) on --kafka-addr, persisted in
    --data-dir/kafka so a restart keeps topics and records;
  - PostgreSQL at DATABASE_URL (the database is created and marked as strike dev's if missing;
    a database strike dev did not create is refused unless --dev-reuse-database); if no server answers
    there but PostgreSQL is installed, a private cluster in --data-dir/postgres, stopped on exit;
  - migrations, Strike's topics, and idempotent demo data (2 NOCs, 3 OSPs, one suspended link,
    rosters, policies);
  - every component: the API and webhooks on --http-addr, and /metrics, /healthz and the
    detailed /readyz on --ops-addr.

Ctrl-C (or SIGTERM) stops it cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd.Context(), g, o, cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", env("STRIKE_DATA_DIR", ".strike"), "folder for the broker's data and a private PostgreSQL if one is needed (STRIKE_DATA_DIR)")
	f.StringVar(&o.kafkaAddr, "kafka-addr", env("STRIKE_DEV_KAFKA_ADDR", "127.0.0.1:9092"), "where the embedded broker listens (STRIKE_DEV_KAFKA_ADDR)")
	f.StringVar(&o.httpAddr, "http-addr", env("STRIKE_HTTP_ADDR", "127.0.0.1:8080"), "public address: the API and webhooks (STRIKE_HTTP_ADDR)")
	f.StringVar(&o.opsAddr, "ops-addr", env("STRIKE_OPS_ADDR", "127.0.0.1:9090"), "operations address: /metrics, /healthz, detailed /readyz (STRIKE_OPS_ADDR)")
	f.StringVar(&o.dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	f.Int32Var(&o.partitions, "partitions", 6, "partition count of the topics created in dev")
	f.BoolVar(&o.reuseDatabase, "dev-reuse-database", false, "use the database at --database-url although strike dev did not create it (it gets demo data and dev-only tokens, and its sink offsets may be reset); never for a database that production uses")
	return cmd
}

func runDev(ctx context.Context, g *globals, o devOpts, out io.Writer) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}

	// PostgreSQL: the configured server, or a private one when none answers.
	// strike dev writes demo data and dev tokens: only into a database it created itself.
	dbURL := o.dbURL
	if err := prepareDevDatabase(ctx, log, dbURL, o.reuseDatabase, false); err != nil {
		if !isConnRefused(err) {
			return err
		}
		log.Warn().Str("database", pg.Redact(dbURL)).Msg("no PostgreSQL answers there; starting a private cluster in the data folder")
		cluster, err := devpg.Start(ctx, filepath.Join(o.dataDir, "postgres"))
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Error().Err(err).Msg("stop private PostgreSQL")
			}
		}()
		dbURL = cluster.URL
		if err := prepareDevDatabase(ctx, log, dbURL, o.reuseDatabase, true); err != nil {
			return err
		}
	}

	// The embedded broker.
	_, portStr, err := net.SplitHostPort(o.kafkaAddr)
	if err != nil {
		return fmt.Errorf("--kafka-addr %q: %w", o.kafkaAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--kafka-addr %q: port: %w", o.kafkaAddr, err)
	}
	kafkaDir := filepath.Join(o.dataDir, "kafka")
	_, statErr := os.Stat(kafkaDir)
	freshBroker := errors.Is(statErr, os.ErrNotExist)
	broker, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(kafkaDir)}, devBrokerOpts()...)...)
	if err != nil {
		return fmt.Errorf("start embedded broker on %s (is the port taken? set --kafka-addr): %w", o.kafkaAddr, err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()[0]
	admin, err := devAdminSecurity()
	if err != nil {
		return err
	}

	rt, err := newRuntime(log, dbURL, brokers, admin, o.httpAddr, o.opsAddr)
	if err != nil {
		return err
	}
	defer rt.close()
	// strike dev itself works as the owner (DATABASE_URL): it migrates, seeds and makes each
	// component's login role; the components run as those roles.
	owner, err := pg.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer owner.Close()
	if _, err := pg.Migrate(ctx, owner); err != nil {
		return err
	}
	if rt.dbURLs, err = devLoginRoles(ctx, owner, dbURL); err != nil {
		return err
	}
	if freshBroker {
		// A new, empty broker beside a database that remembers offsets of an earlier one (after
		// `make clean`): the sink would wait at offsets the new topics never reach. Its
		// projections stay; only its read positions start over.
		if err := projection.ResetOffsets(ctx, owner); err != nil {
			return fmt.Errorf("new broker: %w", err)
		}
		log.Info().Msg("new embedded broker: the sink's stored offsets were reset")
	}
	if err := devdata.Seed(ctx, tenancy.Store{Pool: owner}); err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	if err := ensureTopics(ctx, brokers, admin, o.partitions); err != nil {
		return err
	}
	if rt.componentSecurity, err = provisionDevKafka(ctx, brokers, admin); err != nil {
		return err
	}
	if err := acceptLibrdkafkaSASL(ctx, broker, brokers, admin); err != nil {
		return err
	}

	components := map[string]componentFunc{}
	add := func(name string) func(componentFunc, error) error {
		return func(run componentFunc, err error) error {
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			components[name] = run
			return nil
		}
	}
	// One line per component.
	if err := add("eco-processor")(rt.ecoProcessor(ecoProcessorOpts{transactionalID: "strike-eco-processor-dev"})); err != nil {
		return err
	}
	if err := add("render-poller")(rt.devRender(ctx, owner)); err != nil {
		return err
	}
	if err := add("sink")(rt.sink(sinkOpts{})); err != nil {
		return err
	}
	if err := add("gateway")(rt.gateway(gatewayOpts{devMode: true})); err != nil {
		return err
	}
	sim, tel, err := startDevTwilio(ctx, log, "http://"+o.httpAddr)
	if err != nil {
		return err
	}
	defer sim.Close()
	if err := add("twilio-webhooks")(rt.twilioWebhooks(tel)); err != nil {
		return err
	}
	if err := add("dialer")(rt.dialer(tel, dialerOpts{transactionalID: "strike-dialer-dev"})); err != nil {
		return err
	}
	if err := add("egress")(rt.egress("strike-egress-dev")); err != nil {
		return err
	}
	printBanner(out, brokers, o.httpAddr, o.opsAddr, dbURL, o.dataDir)
	if err := seedDevUsers(ctx, owner, o.httpAddr, out); err != nil {
		return fmt.Errorf("dev users: %w", err)
	}
	if err := printDevKafkaCredentials(out, brokers); err != nil {
		return err
	}
	err = rt.serve(ctx, components)
	log.Info().Msg("strike dev stopped")
	return ignoreCanceled(err)
}

// prepareDevDatabase creates the database url names if it is missing and marks it as strike
// dev's (devpg.Marker). An existing database without the marker is refused unless reuse; ownCluster
// says the server is strike dev's private cluster, whose databases are its own by construction.
func prepareDevDatabase(ctx context.Context, log zerolog.Logger, url string, reuse, ownCluster bool) error {
	created, err := pg.CreateDatabaseIfMissing(ctx, url)
	if err != nil {
		return err
	}
	if created {
		log.Info().Str("database", pg.Redact(url)).Msg("created the dev database and marked it as strike dev's")
		return devpg.MarkDatabase(ctx, url)
	}
	ok, err := devpg.IsDevDatabase(ctx, url)
	switch {
	case err != nil:
		return err
	case ok:
		return nil
	case ownCluster:
		return devpg.MarkDatabase(ctx, url)
	case reuse:
		log.Warn().Str("database", pg.Redact(url)).Msg("--dev-reuse-database: using a database strike dev did not create; it gets demo data and dev-only tokens")
		return nil
	}
	return fmt.Errorf("%w: %s exists but has no strike dev marker, and strike dev writes demo data, dev-only API tokens and resets sink offsets in its database. "+
		"Point DATABASE_URL (or --database-url) at a database name that does not exist yet (strike dev creates and marks it), "+
		"or, if this database is only for development, pass --dev-reuse-database, or mark it as strike dev's once "+
		"(e.g. one created by a strike dev older than the marker): %s",
		devpg.ErrNotDevDatabase, pg.Redact(url), devpg.MarkSQL(url))
}

func ensureTopics(ctx context.Context, brokers string, admin kafkaclient.Security, partitions int32) error {
	cl, err := adminClient(brokers, admin, "dev-topics")
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	specs := topics.Catalog(partitions)
	for _, n := range devdata.NOCs { // each demo NOC's ingress and egress (strike kafka access)
		specs = append(specs, topics.Spec{Name: topics.NOCIngress(n.ID), Partitions: partitions},
			topics.Spec{Name: topics.NOCEgress(n.ID), Partitions: partitions})
	}
	_, err = topics.Ensure(ctx, kadm.NewClient(cl), specs, -1)
	return err
}

func isConnRefused(err error) bool {
	var connErr *pgconn.ConnectError
	var opErr *net.OpError
	return errors.As(err, &connErr) || errors.As(err, &opErr)
}

func printBanner(w io.Writer, brokers, httpAddr, opsAddr, dbURL, dataDir string) {
	fmt.Fprintf(w, `
Osprey Strike is running (strike dev). Ctrl-C stops it.

  Kafka (embedded kfake)  %s        data in %s  (SASL and ACLs on)
  PostgreSQL              %s
  API and webhooks        http://%s/v1/  (and /healthz, /readyz: ok or not)
  Operations              http://%s/metrics  /healthz  /readyz (detailed)

Demo tenants: NOCs %s, %s; OSPs %s, %s, %s
(%s -> %s is suspended).

Every component connects to Kafka as its own principal with only its own ACLs. Below: the API
users' tokens and each NOC tool's Kafka credentials; docs/topics.md has more kcat lines.

`, brokers, filepath.Join(dataDir, "kafka"), pg.Redact(dbURL), httpAddr, opsAddr,
		devdata.NOCNorthwind, devdata.NOCHarbor, devdata.OSPAcme, devdata.OSPBolt, devdata.OSPCedar,
		devdata.NOCHarbor, devdata.OSPCedar)
}
