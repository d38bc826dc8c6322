package main

// strike dlq replay: re-produce what the DLQ holds to where it came from (internal/dlqreplay).

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/dlqreplay"
	"github.com/osprey-strike/strike/internal/kafkaclient"
)

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Work with the dead-letter topic strike.dlq.v1",
	}
	cmd.AddCommand(newDLQReplayCmd(g))
	return cmd
}

func newDLQReplayCmd(g *globals) *cobra.Command {
	var (
		kafka            kafkaFlags
		opts             dlqreplay.Options
		key, since       string
		hasKey           bool
		progressInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-produce DLQ records' original values to their origin topics",
		Long: `Reads strike.dlq.v1 from its start (or from --since) up to the end offsets it finds when it
starts, selects records by --reason (repeatable), --origin-topic, --consumer and --key, and
produces each selected record's original value, with its original key and original headers, to
its origin topic (or --to-topic). Each replayed record carries the header
strike_dlq_replay_of: strike.dlq.v1/<partition>/<offset>, so a replay that fails again and
returns to the DLQ is recognisable (its original headers then hold that header).

A DLQ record whose original value was cut to fit the DLQ (strike_dlq_original_truncated), whose
original headers were cut, or whose key may have been cut (1 KiB) can NOT be replayed: it is
listed as skipped, with why, and counted; get the original from its producer.

IDEMPOTENCE: replaying is idempotent only as far as the consumers drop duplicates by ce_id.
Strike's consumers do (every event has a deterministic id), so replaying a record that was in
fact applied changes nothing there; any other consumer of the origin topic sees it twice. Fix
the cause first (docs/runbooks/dlq-records.md): a record replayed unchanged into the consumer
that refused it is refused again.

Prints one line per selected record on stdout (with --dry-run: what it would replay), the
figures read / selected / replayed / skipped every second on stderr, and a summary.`,
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
			if since != "" {
				if opts.Since, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			if hasKey = cmd.Flags().Changed("key"); hasKey {
				opts.Key = &key
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			opts.OnItem = func(it dlqreplay.Item) { printItem(out, it, opts.DryRun) }
			opts.ProgressEvery = progressInterval
			start := time.Now()
			opts.Progress = func(c dlqreplay.Counts) {
				fmt.Fprintf(errOut, "dlq replay: %s read %d, selected %d, %s %d, skipped %d\n",
					time.Since(start).Round(time.Second), c.Read, c.Selected, replayedWord(opts.DryRun), c.Replayed, c.Skipped)
			}
			base := kafkaclient.Options(kafka.brokers, sec, "dlq-replay", log, nil)
			c, err := dlqreplay.Run(cmd.Context(), base, opts)
			if err != nil {
				return explainKafka(err, kafka.brokers, sec)
			}
			fmt.Fprintf(out, "read %d, selected %d, %s %d, skipped %d (cannot be replayed)\n",
				c.Read, c.Selected, replayedWord(opts.DryRun), c.Replayed, c.Skipped)
			return nil
		},
	}
	f := cmd.Flags()
	kafka.register(cmd)
	f.StringSliceVar(&opts.Reasons, "reason", nil, "select records with this strike_dlq_reason (repeat or comma-separate)")
	f.StringVar(&opts.OriginTopic, "origin-topic", "", "select records that came from this topic")
	f.StringVar(&opts.Consumer, "consumer", "", "select records this consumer refused (strike_dlq_consumer, e.g. eco-processor, sink)")
	f.StringVar(&key, "key", "", "select records with exactly this key (an osp_tenant_id or eco_id)")
	f.StringVar(&since, "since", "", "read from the first DLQ record at or after this time: RFC 3339, or a duration ago (e.g. 24h)")
	f.StringVar(&opts.ToTopic, "to-topic", "", "produce to this topic instead of each record's origin topic")
	f.BoolVar(&opts.DryRun, "dry-run", false, "list what would be replayed, produce nothing")
	f.DurationVar(&progressInterval, "progress-interval", time.Second, "how often to print progress on stderr")
	return cmd
}

func replayedWord(dry bool) string {
	if dry {
		return "would replay"
	}
	return "replayed"
}

func printItem(w io.Writer, it dlqreplay.Item, dry bool) {
	what := "replay"
	switch {
	case it.Skip != "":
		what = "SKIP (" + it.Skip + ")"
	case dry:
		what = "would replay"
	}
	fmt.Fprintf(w, "%s %s/%d/%d key=%s reason=%s consumer=%s origin=%s/%d/%d -> %s\n",
		what, "strike.dlq.v1", it.Partition, it.Offset, strconv.Quote(string(it.Key)), it.Reason, it.Consumer,
		it.OriginTopic, it.OriginPartition, it.OriginOffset, it.Target)
}

// parseSince reads an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (24h)", s)
}
