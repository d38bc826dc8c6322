package main

// Consumer lag: every component exports its own group's lag on its /metrics (watchLag), and
// `strike lag` exports any groups' lag on its own, for groups whose members are down.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/consumers/egress"
	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/lag"
	"github.com/osprey-strike/strike/internal/opsserver"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/topics"
)

// Strike's consumer groups by default name, with the topics each consumes.
const (
	groupECOProcessor   = "strike-eco-processor"
	groupRenderDispatch = "strike-render-dispatch"
)

var groupTopics = map[string][]string{
	groupECOProcessor:   {topics.ECORequests},
	dialer.DefaultGroup: {topics.ECOEvents, topics.TelephonyCallbacks, topics.CalloutControls},
	sink.DefaultGroup:   sink.Topics,
	groupRenderDispatch: {topics.ECOEvents},
	egress.DefaultGroup: {topics.ECOEvents, topics.CalloutEvents},
}

// defaultLagGroups are the groups strike lag and strike status show unless --group names others.
func defaultLagGroups() []string {
	return []string{groupECOProcessor, dialer.DefaultGroup, sink.DefaultGroup, groupRenderDispatch}
}

// lagGroup describes group for the lag collector; kind is the default group name of the
// component (its topics), since a deployment may rename the group.
func lagGroup(kind, group string) lag.Group {
	if group == "" {
		group = kind
	}
	return lag.Group{Name: group, Topics: groupTopics[kind]}
}

// sinkLagGroup measures the sink's group against its offsets in PostgreSQL: the sink stores its
// position there, in the transaction with its rows, and commits nothing to Kafka.
func sinkLagGroup(pool *pgxpool.Pool, group string) lag.Group {
	g := lagGroup(sink.DefaultGroup, group)
	g.Committed = func(ctx context.Context) (map[string]map[int32]int64, error) {
		return projection.StoredOffsets(ctx, pool, g.Name)
	}
	return g
}

// lagExporter is the runtime's one lag collector, shared by the components of a process.
type lagExporter struct {
	cl  *kgo.Client
	col *lag.Collector
}

// watchLag adds groups to the process's lag metrics, creating the collector on first use.
func (rt *runtime) watchLag(groups ...lag.Group) {
	if rt.lag == nil {
		cl, err := kgo.NewClient(kafkaclient.Options(rt.brokers, rt.security, "lag", rt.log, nil)...)
		if err != nil {
			rt.log.Warn().Err(err).Msg("no consumer lag metrics")
			return
		}
		col := lag.New(kadm.NewClient(cl), lag.Config{})
		if err := rt.reg.Register(col); err != nil {
			cl.Close()
			rt.log.Warn().Err(err).Msg("no consumer lag metrics")
			return
		}
		rt.lag = &lagExporter{cl: cl, col: col}
	}
	rt.lag.col.Add(groups...)
}

func (l *lagExporter) close() {
	if l != nil {
		l.cl.Close()
	}
}

func newLagCmd(g *globals) *cobra.Command {
	var (
		kafka                      kafkaFlags
		dbURL, httpAddr, sinkGroup string
		groups                     []string
		once                       bool
		ttl                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Export (or print) consumer lag per group, topic and partition",
		Long: `Serves strike_kafka_consumer_group_lag_records{group,topic,partition} (committed offset to log
end), strike_kafka_consumer_group_members{group} and strike_kafka_consumer_group_lag_up{group}
on --http-addr /metrics, for groups whose members are down or not exporting. Each component
already exports its own group's lag. With --once it prints the lag as a table and exits.

Strike's groups are known by name with their topics; partitions a group has never committed
count all their retained records. The sink's group (--sink-group) keeps its position in
PostgreSQL (with its projections), so its lag is read from --database-url.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			cl, err := kgo.NewClient(kafkaclient.Options(kafka.brokers, sec, "lag", log, nil)...)
			if err != nil {
				return err
			}
			defer cl.Close()
			var lgs []lag.Group
			var pool *pgxpool.Pool
			for _, name := range groups {
				if name != sinkGroup {
					lgs = append(lgs, lag.Group{Name: name, Topics: groupTopics[name]})
					continue
				}
				if pool == nil {
					// Lazily connected: an unreachable database only marks the sink's lag as down.
					if pool, err = pgxpool.New(ctx, dbURL); err != nil {
						return fmt.Errorf("database url: %w", err)
					}
					defer pool.Close()
				}
				lgs = append(lgs, sinkLagGroup(pool, name))
			}
			col := lag.New(kadm.NewClient(cl), lag.Config{TTL: ttl}, lgs...)
			if once {
				return printLag(cmd.OutOrStdout(), col.Snapshot(ctx), groups)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			ops := opsserver.New(log, reg)
			ln, err := ops.Listen(httpAddr)
			if err != nil {
				return fmt.Errorf("listen on %s (set --http-addr): %w", httpAddr, err)
			}
			log.Info().Str("addr", ln.Addr().String()).Strs("groups", groups).Msg("exporting consumer lag on /metrics")
			return ignoreCanceled(ops.Serve(ctx, nil, ln))
		},
	}
	f := cmd.Flags()
	kafka.register(cmd)
	f.StringVar(&dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL, for the sink's stored offsets (DATABASE_URL)")
	f.StringVar(&httpAddr, "http-addr", env("STRIKE_HTTP_ADDR", ":9308"), "address for /metrics, /healthz, /readyz (STRIKE_HTTP_ADDR)")
	f.StringVar(&sinkGroup, "sink-group", env("STRIKE_SINK_GROUP", sink.DefaultGroup), "the group whose offsets are in PostgreSQL, not Kafka (STRIKE_SINK_GROUP)")
	f.StringSliceVar(&groups, "group", defaultLagGroups(), "consumer groups to measure (repeat or comma-separate)")
	f.BoolVar(&once, "once", false, "print the lag once and exit")
	f.DurationVar(&ttl, "cache", lag.DefaultTTL, "how long one computation serves scrapes")
	return cmd
}

func printLag(w io.Writer, s lag.Snapshot, groups []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tMEMBERS\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG")
	var failed []string
	for _, name := range groups {
		st := s.Groups[name]
		if st.Err != nil {
			fmt.Fprintf(tw, "%s\terror: %v\t\t\t\t\t\t\n", name, st.Err)
			failed = append(failed, name)
			continue
		}
		var total int64
		for _, p := range s.Partitions {
			if p.Group != name {
				continue
			}
			committed := "-"
			if p.Committed >= 0 {
				committed = fmt.Sprint(p.Committed)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%d\t%d\n", name, st.State, st.Members, p.Topic, p.Partition, committed, p.End, p.Lag)
			total += p.Lag
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t(total)\t\t\t\t%d\n", name, st.State, st.Members, total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return fmt.Errorf("lag unknown for %s", strings.Join(failed, ", "))
	}
	return nil
}
