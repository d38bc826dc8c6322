package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/pg"
)

// connFlags are the connection flags of every `strike run` component.
type connFlags struct {
	brokers  string
	dbURL    string
	httpAddr string
}

func (c *connFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.brokers, "brokers", env("STRIKE_KAFKA_BROKERS", kafkaclient.DefaultBrokers), "Kafka seed brokers, comma-separated (STRIKE_KAFKA_BROKERS)")
	cmd.Flags().StringVar(&c.dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	cmd.Flags().StringVar(&c.httpAddr, "http-addr", env("STRIKE_HTTP_ADDR", ":8080"), "address for /metrics, /healthz, /readyz (STRIKE_HTTP_ADDR)")
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
	cmd.AddCommand(newRunDialerCmd(g))
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

// runOne runs a single component the way every `strike run` subcommand does.
func runOne(ctx context.Context, g *globals, conn connFlags, name string, build func(*runtime) (componentFunc, error)) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	rt, err := newRuntime(ctx, log, conn.dbURL, conn.brokers, conn.httpAddr)
	if err != nil {
		return err
	}
	defer rt.close()
	if err := verifyTopics(ctx, conn.brokers); err != nil {
		return err
	}
	run, err := build(rt)
	if err != nil {
		return err
	}
	return ignoreCanceled(rt.serve(ctx, map[string]componentFunc{name: run}))
}
