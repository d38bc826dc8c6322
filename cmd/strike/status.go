package main

// strike status: one terminal view of the pipeline (internal/status).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/lag"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/status"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		kafka            kafkaFlags
		dbURL, sinkGroup string
		groups, opsURLs  []string
		timeout          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One terminal view: groups and lag, live ring-downs, DLQ, failing Render instances, readiness",
		Long: `Prints, as plain text within 100 columns:

  - each consumer group (--group) with its state, members and lag (the sink's group from its
    offsets in PostgreSQL, as strike lag does);
  - live ring-downs: ECOs whose latest state in the compacted strike.callout.state.v1 is
    ringing or waiting_retry (read from the topic, so it works with the dialer down);
  - DLQ records of the last 24 h by reason (strike.dlq.v1, from the record timestamps);
  - enabled Render instances whose poll state counts failures (render_poll_state);
  - readiness of each component named with --ops-url name=http://host:9090 (GET /readyz).

A part that cannot be gathered shows its error; the others still show.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			var ops []status.OpsURL
			for _, o := range opsURLs {
				name, url, ok := strings.Cut(o, "=")
				if !ok || name == "" || !strings.HasPrefix(url, "http") {
					return fmt.Errorf("--ops-url %q: want name=http://host:port", o)
				}
				ops = append(ops, status.OpsURL{Name: name, URL: url})
			}
			ctx := cmd.Context()
			pool, err := pgxpool.New(ctx, dbURL)
			if err != nil {
				return fmt.Errorf("database url: %w", err)
			}
			defer pool.Close()
			var lgs []lag.Group
			for _, name := range groups {
				if name == sinkGroup {
					lgs = append(lgs, sinkLagGroup(pool, name))
				} else {
					lgs = append(lgs, lag.Group{Name: name, Topics: groupTopics[name]})
				}
			}
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			rep := status.Gather(ctx, status.Config{
				Base:   kafkaclient.Options(kafka.brokers, sec, "status", log, nil),
				Pool:   pool,
				Groups: lgs,
				Ops:    ops,
			})
			return rep.Print(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	kafka.register(cmd)
	f.StringVar(&dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	f.StringVar(&sinkGroup, "sink-group", env("STRIKE_SINK_GROUP", sink.DefaultGroup), "the group whose offsets are in PostgreSQL, not Kafka (STRIKE_SINK_GROUP)")
	f.StringSliceVar(&groups, "group", defaultLagGroups(), "consumer groups to show (repeat or comma-separate)")
	f.StringArrayVar(&opsURLs, "ops-url", nil, "a component's ops server as name=http://host:9090, asked for /readyz (repeatable)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up on what is not gathered by then")
	return cmd
}
