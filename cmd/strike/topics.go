package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/osprey-strike/strike/internal/topics"
)

func newTopicsCmd(g *globals) *cobra.Command {
	var (
		kafka       kafkaFlags
		partitions  int32
		replication int16
		verifyOnly  bool
	)
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create missing Strike topics and verify existing ones",
		Long: `Creates every Strike topic that is missing, then verifies all of them: partition counts,
cleanup policies (strike.callout.state.v1 is compacted) and co-partitioning (eco.events,
telephony.callbacks and callout.state must have equal partition counts). A mismatch is reported
and nothing is changed: repartitioning a keyed topic breaks ordering and must be planned.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			cl, err := adminClient(kafka.brokers, sec, "topics")
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			specs := topics.Catalog(partitions)
			if verifyOnly {
				if err := topics.Verify(cmd.Context(), adm, specs); err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "all %d topics match\n", len(specs))
				return nil
			}
			res, err := topics.Ensure(cmd.Context(), adm, specs, replication)
			if err != nil {
				return explainKafka(err, kafka.brokers, sec)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created: %s\nverified: %s\n", list(res.Created), list(res.Verified))
			return nil
		},
	}
	kafka.register(cmd)
	cmd.Flags().Int32Var(&partitions, "partitions", topics.DefaultPartitions, "partition count of every topic")
	cmd.Flags().Int16Var(&replication, "replication-factor", -1, "replication factor of created topics; -1 uses the broker default")
	cmd.Flags().BoolVar(&verifyOnly, "verify-only", false, "only verify; create nothing")
	return cmd
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}
