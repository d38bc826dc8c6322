package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/topics"
)

func newKafkaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "kafka", Short: "Kafka access: NOC principals and component least privilege"}
	cmd.AddCommand(newKafkaAccessCmd())
	return cmd
}

func newKafkaAccessCmd() *cobra.Command {
	var (
		kafka              kafkaFlags
		nocs               []string
		components         bool
		nocPrincipal       string
		componentPrincipal string
		apply              bool
	)
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Print, or apply, the ACLs of NOC tools and Strike components",
		Long: `Prints the ACLs that let each NOC tool (--noc, repeatable) write only its NOC's ingress topic
(strike.noc.<noc>.requests.v1) and read only its egress topic (strike.noc.<noc>.outcomes.v1),
with the eco-processor's read of that ingress and the egress component's write of that egress,
and, with --components, each Strike component's least privilege. With --apply it creates the
NOC's two topics (the requests topic's partition count) and the ACLs through the admin API;
applying again changes nothing. Run it as a principal allowed to alter ACLs.

Principals are "User:<noc>" (the NOC tenant id) and "User:strike-<component>" unless --noc-principal and
--component-principal give another pattern ({noc}, {component} are replaced).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(nocs) == 0 && !components {
				return fmt.Errorf("nothing to do: name NOCs with --noc, or add --components")
			}
			gs := nocGrants(nocs, nocPrincipal, componentPrincipal)
			if components {
				g, err := componentGrants(componentPrincipal)
				if err != nil {
					return err
				}
				gs = append(gs, g...)
			}
			out := cmd.OutOrStdout()
			if err := kafkaacl.Print(out, gs); err != nil {
				return err
			}
			if !apply {
				fmt.Fprintln(out, "\n(printed only; --apply creates them)")
				return nil
			}
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			cl, err := adminClient(kafka.brokers, sec, "access")
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			ctx := cmd.Context()
			if len(nocs) > 0 {
				details, err := adm.ListTopics(ctx, topics.ECORequests)
				if err == nil {
					err = details.Error()
				}
				if err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				n := int32(len(details[topics.ECORequests].Partitions))
				var specs []topics.Spec
				for _, noc := range nocs {
					specs = append(specs, topics.Spec{Name: topics.NOCIngress(noc), Partitions: n}, topics.Spec{Name: topics.NOCEgress(noc), Partitions: n})
				}
				res, err := topics.Ensure(ctx, adm, specs, -1)
				if err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				fmt.Fprintf(out, "\ntopics created: %s; verified: %s\n", list(res.Created), list(res.Verified))
			}
			if err := kafkaacl.Apply(ctx, adm, gs); err != nil {
				return explainKafka(err, kafka.brokers, sec)
			}
			fmt.Fprintf(out, "%d ACLs applied\n", len(gs))
			return nil
		},
	}
	kafka.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&nocs, "noc", nil, "NOC tenant ids whose tool principals to grant (repeat or comma-separate)")
	f.BoolVar(&components, "components", false, "also grant each Strike component its least privilege")
	f.StringVar(&nocPrincipal, "noc-principal", "User:{noc}", "principal of a NOC's tool")
	f.StringVar(&componentPrincipal, "component-principal", "User:strike-{component}", "principal of a Strike component")
	f.BoolVar(&apply, "apply", false, "create the NOCs' topics and the ACLs (default: print only)")
	return cmd
}

// nocGrants are the grants of each of nocs: its tool's (ForNOC) and the components' on its topics
// (ForNOCPipeline), with the principals the patterns name ({noc}, {component} replaced).
func nocGrants(nocs []string, nocPrincipal, componentPrincipal string) []kafkaacl.Grant {
	var gs []kafkaacl.Grant
	for _, noc := range nocs {
		gs = append(gs, kafkaacl.ForNOC(noc, strings.ReplaceAll(nocPrincipal, "{noc}", noc))...)
		gs = append(gs, kafkaacl.ForNOCPipeline(noc, func(c string) string { return componentPrincipalOf(componentPrincipal, c) })...)
	}
	return gs
}

// componentGrants is every component's least privilege (ForComponent), as the pattern names
// its principal.
func componentGrants(componentPrincipal string) ([]kafkaacl.Grant, error) {
	var gs []kafkaacl.Grant
	for _, c := range kafkaacl.Components {
		g, err := kafkaacl.ForComponent(c, componentPrincipalOf(componentPrincipal, c))
		if err != nil {
			return nil, err
		}
		gs = append(gs, g...)
	}
	return gs, nil
}

func componentPrincipalOf(pattern, component string) string {
	return strings.ReplaceAll(pattern, "{component}", component)
}
