package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/topics"
)

func newTopicsCmd(g *globals) *cobra.Command {
	var (
		kafka       kafkaFlags
		partitions  int32
		replication int16
		verifyOnly  bool
		acls        aclFlags
	)
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create missing Strike topics and verify existing ones and their ACLs",
		Long: `Creates every Strike topic that is missing, then verifies all of them: partition counts,
cleanup policies (strike.callout.state.v1 is compacted) and co-partitioning (eco.events,
telephony.callbacks and callout.state must have equal partition counts). A mismatch is reported
and nothing is changed: repartitioning a keyed topic breaks ordering and must be planned.

Then verifies the ACLs: each Strike component's least privilege, and each NOC's (every NOC with
an ingress topic) as 'strike kafka access' grants them; each missing one is listed and the
command fails. Run it as a principal that may describe ACLs. On a cluster without an authorizer
the ACLs are not checked (it says so).`,
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
			out := cmd.OutOrStdout()
			specs := topics.Catalog(partitions)
			if verifyOnly {
				if err := topics.Verify(cmd.Context(), adm, specs); err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				fmt.Fprintf(out, "all %d topics match\n", len(specs))
			} else {
				res, err := topics.Ensure(cmd.Context(), adm, specs, replication)
				if err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				fmt.Fprintf(out, "created: %s\nverified: %s\n", list(res.Created), list(res.Verified))
			}
			return explainKafka(verifyACLs(cmd.Context(), adm, acls, out), kafka.brokers, sec)
		},
	}
	kafka.register(cmd)
	acls.register(cmd)
	cmd.Flags().Int32Var(&partitions, "partitions", topics.DefaultPartitions, "partition count of every topic")
	cmd.Flags().Int16Var(&replication, "replication-factor", -1, "replication factor of created topics; -1 uses the broker default")
	cmd.Flags().BoolVar(&verifyOnly, "verify-only", false, "only verify; create nothing")
	return cmd
}

// aclFlags name the principals whose ACLs are checked, as 'strike kafka access' names them.
type aclFlags struct {
	nocPrincipal, componentPrincipal string
	skip                             bool
}

func (a *aclFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.nocPrincipal, "noc-principal", "User:{noc}", "principal of a NOC's tool ({noc} is replaced)")
	cmd.Flags().StringVar(&a.componentPrincipal, "component-principal", "User:strike-{component}", "principal of a Strike component ({component} is replaced)")
	cmd.Flags().BoolVar(&a.skip, "skip-acls", false, "do not verify ACLs")
}

// verifyACLs checks that the cluster holds every component's grants and every provisioned NOC's.
func verifyACLs(ctx context.Context, adm *kadm.Client, a aclFlags, out io.Writer) error {
	if a.skip {
		return nil
	}
	gs, err := componentGrants(a.componentPrincipal)
	if err != nil {
		return err
	}
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var nocs []string
	for _, name := range all.Names() {
		if noc, ok := topics.IngressNOC(name); ok {
			nocs = append(nocs, noc)
		}
	}
	gs = append(gs, nocGrants(nocs, a.nocPrincipal, a.componentPrincipal)...)
	missing, err := kafkaacl.Missing(ctx, adm, gs)
	if errors.Is(err, kerr.SecurityDisabled) {
		fmt.Fprintln(out, "ACLs: not checked, the cluster has no authorizer (every client may do anything)")
		return nil
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		var b strings.Builder
		_ = kafkaacl.Print(&b, missing)
		return fmt.Errorf("%d of %d ACLs are missing (grant them with `strike kafka access --components --noc <id> --apply`):\n%s",
			len(missing), len(gs), b.String())
	}
	fmt.Fprintf(out, "ACLs: all %d present (%d components; NOCs: %s)\n", len(gs), len(kafkaacl.Components), list(nocs))
	return nil
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}
