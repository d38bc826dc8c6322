package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/internal/twilio"
)

// dialerOpts are the dialer's own flags.
type dialerOpts struct {
	group           string
	transactionalID string
	ringDuration    time.Duration
	reconcileMargin time.Duration
	workers         int
}

// dialer builds the dialer on the Twilio adapter (Strike's main credentials; the NOC's
// subaccount is chosen per call). tel.apiBaseURL points the adapter at a simulator.
func (rt *runtime) dialer(tel telephonyOpts, o dialerOpts) (componentFunc, error) {
	if tel.accountSID == "" || tel.authToken == "" || tel.publicBaseURL == "" {
		return nil, errors.New("the dialer needs --twilio-account-sid, STRIKE_TWILIO_AUTH_TOKEN and --public-base-url")
	}
	adapter, err := twilio.New(twilio.Config{
		// The dialer paces calls itself (per account, P1 first calls first): the adapter must not.
		AccountSID: tel.accountSID, AuthToken: tel.authToken, BaseURL: tel.apiBaseURL, CPS: -1,
		// One idle connection per worker, so a burst of calls reuses connections.
		HTTPClient: &http.Client{Timeout: twilio.DefaultHTTPTimeout,
			Transport:     &http.Transport{MaxIdleConnsPerHost: max(o.workers, dialer.DefaultWorkers)},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, rt.log, rt.reg)
	if err != nil {
		return nil, err
	}
	pool, err := rt.db("dialer")
	if err != nil {
		return nil, err
	}
	d, err := dialer.New(dialer.Deps{
		Store: dialer.PGStore{Pool: pool}, Twilio: adapter, Validator: rt.validator, Log: rt.log, Registry: rt.reg,
	}, dialer.Config{
		Brokers: rt.brokers, Security: rt.securityOf("dialer"), WebhookBase: tel.publicBaseURL, Group: o.group, TransactionalID: o.transactionalID,
		RingDuration: o.ringDuration, ReconcileMargin: o.reconcileMargin, Workers: o.workers, CPS: cps(tel.cps),
	})
	if err != nil {
		return nil, err
	}
	rt.watchLag(lagGroup(dialer.DefaultGroup, o.group))
	return d.Run, nil
}

// cps maps the flag's convention (0 or negative = unlimited) to dialer.Config's (negative =
// unlimited, 0 = the default).
func cps(flag float64) float64 {
	if flag <= 0 {
		return -1
	}
	return flag
}

func newRunDialerCmd(g *globals) *cobra.Command {
	var (
		conn connFlags
		tel  telephonyOpts
		opts dialerOpts
	)
	cmd := &cobra.Command{
		Use:   "dialer",
		Short: "Ring each ECO's OSP roster through Twilio until enough people accept",
		Long: `Consumes strike.eco.events.v1 and strike.telephony.callbacks.v1 in one consumer group (range
balancer: partition p of both on one replica), runs each ECO's ring-down, and writes callout
events, its state (compacted strike.callout.state.v1) and the offsets in one Kafka transaction.
Calls are placed through Twilio only after the transaction recording the intent commits.

The webhooks Twilio calls are served by the gateway at --public-base-url; run it with the same
Twilio settings. Topics must exist ('strike topics'); the database must be migrated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rt, err := conn.open(ctx, log, "dialer")
			if err != nil {
				return err
			}
			defer rt.close()
			run, err := rt.dialer(tel, opts)
			if err != nil {
				return fmt.Errorf("dialer: %w", err)
			}
			return ignoreCanceled(rt.serve(ctx, map[string]componentFunc{"dialer": run}))
		},
	}
	conn.register(cmd)
	tel.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.group, "group", env("STRIKE_DIALER_GROUP", dialer.DefaultGroup), "consumer group (STRIKE_DIALER_GROUP)")
	f.StringVar(&opts.transactionalID, "transactional-id", env("STRIKE_TRANSACTIONAL_ID", ""), "transactional id, unique per live replica; default strike-dialer-<hostname> (STRIKE_TRANSACTIONAL_ID)")
	f.DurationVar(&opts.ringDuration, "ring-duration", dialer.DefaultRingDuration, "ring duration when an ECO carries none")
	f.DurationVar(&opts.reconcileMargin, "reconcile-margin", dialer.DefaultReconcileMargin, "how long after the ring duration a call without a final callback is fetched from Twilio")
	f.IntVar(&opts.workers, "workers", dialer.DefaultWorkers, "concurrent Twilio requests")
	return cmd
}
