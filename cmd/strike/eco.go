package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

func newECOCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "eco", Short: "Work with ECOs from the command line (a small NOC tool)"}
	cmd.AddCommand(newECOSubmitCmd(g))
	return cmd
}

func newECOSubmitCmd(g *globals) *cobra.Command {
	var (
		kafka   kafkaFlags
		topic   string
		file    string
		wait    bool
		timeout time.Duration
		req     schemas.ECORequest
		address string
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Produce an ECO request onto the NOC's ingress topic, as a NOC tool does",
		Long: `Builds an ECO request from flags (or reads one as JSON with --file, '-' for stdin), validates it
against schemas/eco-request.v1.json, and produces it keyed by OSP with CloudEvents headers to the
NOC's ingress topic (strike.noc.<noc>.requests.v1; --topic overrides). Prints the request id;
with --wait, also the job number, or the rejection and its reason, read from the NOC's egress
topic (strike.noc.<noc>.outcomes.v1; strike.eco.events.v1 when --topic is strike.eco.requests.v1).`,
		Example: `  strike eco submit --noc noc-northwind --osp osp-acme --region metro-north \
      --priority P1 --site "Exchange 7" --summary "Fibre cut on ring 4" --requester "Noor" --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				var r io.Reader = os.Stdin
				if file != "-" {
					f, err := os.Open(file)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				dec := json.NewDecoder(r)
				dec.DisallowUnknownFields()
				if err := dec.Decode(&req); err != nil {
					return fmt.Errorf("read request %s: %w", file, err)
				}
			} else if address != "" {
				req.Site.Address = address
			}
			v, err := schemas.NewValidator()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			bs := kafkaclient.SplitBrokers(kafka.brokers)
			// A NOC tool writes its NOC's ingress topic and reads its egress topic; inside Strike
			// (--topic strike.eco.requests.v1) the outcome is read from strike.eco.events.v1.
			if topic == "" {
				topic = topics.NOCIngress(req.NOCTenantID)
			}
			outcomes, noc := topics.ECOEvents, req.NOCTenantID
			if sender, ok := topics.IngressNOC(topic); ok {
				// The NOC the broker knows us as, whatever the body says: its egress topic, and
				// the NOC whose request id this is.
				outcomes, noc = topics.NOCEgress(sender), sender
			}
			var waiter *ecorequest.Waiter
			if wait {
				if waiter, err = ecorequest.NewWaiter(ctx, bs, outcomes, sec.Opts()...); err != nil {
					return explainKafka(err, kafka.brokers, sec)
				}
				defer waiter.Close()
			}
			cl, err := kgo.NewClient(append(sec.Opts(), kgo.SeedBrokers(bs...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			now := time.Now().UTC()
			req.RequestedAt = &now
			if err := ecorequest.Submit(ctx, cl, v, &req, "strike/cli", topic); err != nil {
				return explainKafka(err, kafka.brokers, sec)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "request_id: %s\n", req.RequestID)
			if !wait {
				return nil
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			o, err := waiter.Wait(wctx, noc, req.RequestID)
			if err != nil {
				return err
			}
			if o.Rejected != nil {
				fmt.Fprintf(out, "rejected: %s: %s\n", o.Rejected.Reason, o.Rejected.Detail)
				return errors.New("the request was rejected")
			}
			fmt.Fprintf(out, "eco_id: %s\njob_number: %s\n", o.Created.ECOID, o.Created.JobNumber)
			return nil
		},
	}
	f := cmd.Flags()
	kafka.register(cmd)
	f.StringVar(&topic, "topic", "", "topic to produce to; default the NOC's ingress topic, strike.noc.<noc>.requests.v1 (--wait then reads its egress topic)")
	f.StringVar(&file, "file", "", "read the request as JSON from this file ('-' for stdin) instead of flags")
	f.BoolVar(&wait, "wait", false, "wait for the outcome and print the job number or the rejection")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long --wait waits")
	f.StringVar(&req.RequestID, "request-id", "", "idempotency key (a UUID); generated when empty")
	f.StringVar(&req.NOCTenantID, "noc", "", "NOC tenant id")
	f.StringVar(&req.OSPTenantID, "osp", "", "OSP tenant id (also the record key)")
	f.StringVar(&req.Region, "region", "", "roster region")
	f.StringVar(&req.Priority, "priority", "P2", "P1 (most urgent) to P4")
	f.StringVar(&req.Site.Name, "site", "", "site name")
	f.StringVar(&address, "address", "", "site address")
	f.StringVar(&req.Summary, "summary", "", "what is wrong")
	f.StringVar(&req.NOCTicketRef, "ticket", "", "NOC ticket reference")
	f.StringVar(&req.RequestedBy.Name, "requester", env("USER", "cli"), "who is asking")
	f.IntVar(&req.PeopleNeeded, "people", 1, "how many people must accept")
	return cmd
}
