package main

import (
	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/consumers/egress"
)

// egress builds the component that copies each NOC's outcomes to its egress topic.
func (rt *runtime) egress(transactionalID string) (componentFunc, error) {
	e, err := egress.New(rt.log, rt.reg, egress.Config{Brokers: rt.brokers, Security: rt.securityOf("egress"), TransactionalID: transactionalID})
	if err != nil {
		return nil, err
	}
	rt.watchLag(lagGroup(egress.DefaultGroup, ""))
	return e.Run, nil
}

func newRunEgressCmd(g *globals) *cobra.Command {
	var (
		conn            connFlags
		transactionalID string
	)
	cmd := &cobra.Command{
		Use:   "egress",
		Short: "Copy each NOC's ECO and callout outcomes to that NOC's egress topic",
		Long: `Consumes strike.eco.events.v1 and strike.callout.events.v1 (read-committed) and copies each
record, unchanged, to strike.noc.<noc>.outcomes.v1 of the NOC it names, in Kafka transactions with
its offsets: the only topic that NOC's tools may read. A NOC without an egress topic (see
'strike kafka access --apply') is skipped and counted (strike_egress_skipped_total).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd.Context(), g, conn, egress.Name, func(rt *runtime) (componentFunc, error) {
				return rt.egress(transactionalID)
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&transactionalID, "transactional-id", env("STRIKE_TRANSACTIONAL_ID", ""), "transactional id, unique per live replica; default strike-egress-<hostname> (STRIKE_TRANSACTIONAL_ID)")
	return cmd
}
