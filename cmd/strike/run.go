package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/pg"
)

// connFlags are the connection flags of every `strike run` component.
type connFlags struct {
	kafka    kafkaFlags
	dbURL    string
	httpAddr string // the public listener (API, webhooks); only the gateway has one
	opsAddr  string // the operations listener: /metrics, /healthz, detailed /readyz
}

// Default listen addresses: the public port (the gateway's API and webhooks) and the operations
// port (metrics and health, for Prometheus and the kubelet, never exposed publicly).
const (
	defaultHTTPAddr = ":8080"
	defaultOpsAddr  = ":9090"
)

func (c *connFlags) register(cmd *cobra.Command) {
	c.kafka.register(cmd)
	cmd.Flags().StringVar(&c.dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL); each component's STRIKE_<COMPONENT>_DATABASE_URL overrides it, for its own login role (docs/runbooks/database-roles.md)")
	cmd.Flags().StringVar(&c.opsAddr, "ops-addr", env("STRIKE_OPS_ADDR", defaultOpsAddr), "operations address: /metrics, /healthz and /readyz with each check's details; keep it off public networks (STRIKE_OPS_ADDR)")
}

// registerPublic adds the public listener's flag, for components with public routes.
func (c *connFlags) registerPublic(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.httpAddr, "http-addr", env("STRIKE_HTTP_ADDR", defaultHTTPAddr), "public address: the API and webhooks, /healthz, and /readyz as ok or not (STRIKE_HTTP_ADDR)")
}

func newRunCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run <component>",
		Short: "Run one component against a Kafka cluster and PostgreSQL",
		Long: `Runs one Strike component in the foreground against a real Kafka cluster and PostgreSQL.
Scale a component by running more replicas with the same group; stop one with SIGTERM: it
finishes or aborts its transaction and leaves its group before exiting.`,
	}
	cmd.AddCommand(newRunECOProcessorCmd(g))
	cmd.AddCommand(newRunRenderPollerCmd(g))
	cmd.AddCommand(newRunSinkCmd(g), newRunGatewayCmd(g))
	cmd.AddCommand(newRunDialerCmd(g), newRunEgressCmd(g))
	return cmd
}

func newRunECOProcessorCmd(g *globals) *cobra.Command {
	var (
		conn connFlags
		opts ecoProcessorOpts
	)
	cmd := &cobra.Command{
		Use:   "eco-processor",
		Short: "Turn ECO requests into ECOs with per-OSP job numbers, exactly once",
		Long: `Consumes strike.eco.requests.v1 (read-committed, in Kafka transactions with its offsets),
allocates each valid request its OSP's next job number in PostgreSQL, and writes eco.created or
eco.rejected to strike.eco.events.v1 and undecodable input to strike.dlq.v1.

Topics must exist (run 'strike topics'); the database must be migrated ('strike migrate').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd.Context(), g, conn, "eco-processor", func(rt *runtime) (componentFunc, error) {
				return rt.ecoProcessor(opts)
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&opts.group, "group", env("STRIKE_ECO_PROCESSOR_GROUP", "strike-eco-processor"), "consumer group (STRIKE_ECO_PROCESSOR_GROUP)")
	cmd.Flags().StringVar(&opts.transactionalID, "transactional-id", env("STRIKE_TRANSACTIONAL_ID", ""), "transactional id, unique per live replica; default strike-eco-processor-<hostname> (STRIKE_TRANSACTIONAL_ID)")
	return cmd
}

// open builds the runtime of a `strike run` component: the Kafka security settings loaded, the
// database and the listeners opened, and the cluster checked (credentials, ACLs, topics), so a
// misconfiguration stops the component at start with a message naming what failed.
func (c connFlags) open(ctx context.Context, log zerolog.Logger, component string) (*runtime, error) {
	if kafkaclient.IsDevPassword(c.kafka.Password) {
		return nil, errors.New("STRIKE_KAFKA_PASSWORD is a strike dev password (derived from a public seed; only strike dev's " +
			"embedded broker knows it): a component outside strike dev refuses it. Give the component its own principal " +
			"and password (docs/topics.md, \"Connecting\")")
	}
	sec, err := c.kafka.load()
	if err != nil {
		return nil, err
	}
	rt, err := newRuntime(log, c.dbURL, c.kafka.brokers, sec, c.httpAddr, c.opsAddr)
	if err != nil {
		return nil, err
	}
	if err := verifyComponent(ctx, c.kafka.brokers, sec, component); err != nil {
		rt.close()
		return nil, err
	}
	return rt, nil
}

// runOne runs a single component the way every `strike run` subcommand does.
func runOne(ctx context.Context, g *globals, conn connFlags, name string, build func(*runtime) (componentFunc, error)) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	rt, err := conn.open(ctx, log, name)
	if err != nil {
		return err
	}
	defer rt.close()
	run, err := build(rt)
	if err != nil {
		return err
	}
	return ignoreCanceled(rt.serve(ctx, map[string]componentFunc{name: run}))
}
