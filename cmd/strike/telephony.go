package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/producers/callbacks"
)

// telephonyOpts is Strike's own Twilio context: one main account (Strike-owned), the NOC's
// subaccount chosen per call from noc_tenants. The auth token comes from the environment only,
// never a flag, so it stays out of process listings and shell history.
type telephonyOpts struct {
	accountSID    string
	authToken     string
	apiBaseURL    string
	publicBaseURL string
	cps           float64
}

func (o *telephonyOpts) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.accountSID, "twilio-account-sid", env("STRIKE_TWILIO_ACCOUNT_SID", ""), "Strike's main Twilio account SID (STRIKE_TWILIO_ACCOUNT_SID); the auth token is read from STRIKE_TWILIO_AUTH_TOKEN")
	f.StringVar(&o.apiBaseURL, "twilio-api-url", env("STRIKE_TWILIO_API_URL", ""), "Twilio API base URL; empty = Twilio itself (STRIKE_TWILIO_API_URL)")
	f.StringVar(&o.publicBaseURL, "public-base-url", env("STRIKE_PUBLIC_BASE_URL", ""), "Strike's base URL as Twilio reaches it, for webhooks and their signatures (STRIKE_PUBLIC_BASE_URL)")
	f.Float64Var(&o.cps, "twilio-cps", 1, "calls per second per Twilio account or subaccount, paced by the dialer (Twilio's default is 1; 0 or negative: unlimited)")
	o.authToken = os.Getenv("STRIKE_TWILIO_AUTH_TOKEN")
}

// twilioWebhooks mounts the signature-checked webhook routes on the HTTP server. Each webhook is
// validated with the token of its account: the main token for Strike's main account, a NOC
// subaccount's own token read with the main credentials from Twilio's Accounts resource (and
// cached); accounts that are not a NOC's subaccount in noc_tenants are refused.
func (rt *runtime) twilioWebhooks(o telephonyOpts) (componentFunc, error) {
	if o.authToken == "" || o.publicBaseURL == "" || o.accountSID == "" {
		return nil, errors.New("Twilio webhooks need --twilio-account-sid, STRIKE_TWILIO_AUTH_TOKEN and --public-base-url (STRIKE_PUBLIC_BASE_URL)")
	}
	pool, err := rt.db("callbacks")
	if err != nil {
		return nil, err
	}
	accounts, err := twilio.New(twilio.Config{AccountSID: o.accountSID, AuthToken: o.authToken, BaseURL: o.apiBaseURL},
		rt.log, rt.reg)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(kafkaclient.Options(rt.brokers, rt.securityOf("gateway"), "twilio-webhooks", rt.log, rt.reg),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0))...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	h, err := callbacks.New(cl, rt.log, rt.reg, callbacks.Config{PublicBaseURL: o.publicBaseURL,
		Signatures: accounts.WebhookTokens(twilio.DefaultRereadInterval), Accounts: callbacks.NOCSubaccounts{Pool: pool},
		Fill: callbacks.BoardFill{Pool: pool}, CallIns: callbacks.NOCCallIns{Pool: pool, MainAccountSID: o.accountSID}})
	if err != nil {
		cl.Close()
		return nil, err
	}
	h.Mount(rt.ops.Mux)
	return func(ctx context.Context) error {
		// Each NOC's Strike number sends its incoming calls (call-ins) here: Strike-owned
		// configuration, checked at start and every DefaultNumberSyncInterval.
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.RunNumberSync(ctx, callbacks.NOCSubaccounts{Pool: pool}, accounts, o.accountSID, callbacks.DefaultNumberSyncInterval)
		}()
		<-ctx.Done()
		<-done
		cl.Close()
		return nil
	}, nil
}

// gatewayWithWebhooks is the whole gateway process: the API and, when Twilio is configured,
// the webhooks.
func (rt *runtime) gatewayWithWebhooks(o telephonyOpts, gw gatewayOpts) (componentFunc, error) {
	api, err := rt.gateway(gw)
	if err != nil {
		return nil, err
	}
	if o.authToken == "" {
		rt.log.Warn().Msg("STRIKE_TWILIO_AUTH_TOKEN is not set: Twilio webhooks are not served")
		return api, nil
	}
	hooks, err := rt.twilioWebhooks(o)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- hooks(ctx) }()
		return errors.Join(api(ctx), <-errc)
	}, nil
}

// Dev-only Twilio context: the simulator accepts these and nothing else. Not secrets.
const (
	devTwilioAccountSID = "ACdede0000000000000000000000000000"
	devTwilioAuthToken  = "devonlyauthtoken0000000000000000"
)

// startDevTwilio runs the Twilio simulator with the demo script: on Acme's metro-north roster the
// first contact never answers and the second answers and presses 1 on the second pass, so a demo
// ECO is accepted by the second person in the second pass. Script time runs at 0.3×, so the
// 25 s rings take 7.5 s and the demo ends within a minute.
func startDevTwilio(ctx context.Context, log zerolog.Logger, publicBaseURL string) (*twiliosim.Sim, telephonyOpts, error) {
	var subs []string
	for _, n := range devdata.NOCs {
		subs = append(subs, n.TwilioSubaccountSID)
	}
	acme := devdata.Rosters[0].Contacts
	sim, err := twiliosim.New(twiliosim.Config{
		AccountSID: devTwilioAccountSID, AuthToken: devTwilioAuthToken, Subaccounts: subs,
		TimeScale: 0.3,
		Script:    twiliosim.DemoScript(acme[0].Phone, acme[1].Phone),
	}, log.With().Str("component", "twilio-sim").Logger())
	if err != nil {
		return nil, telephonyOpts{}, err
	}
	if err := sim.Start(ctx); err != nil {
		return nil, telephonyOpts{}, fmt.Errorf("start Twilio simulator: %w", err)
	}
	// Each NOC's Strike number exists, unconfigured: the webhooks component points it at the
	// inbound webhook through the IncomingPhoneNumbers API, as with real Twilio.
	for _, n := range devdata.NOCs {
		if err := sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: n.TwilioSubaccountSID, Number: n.CallerID}); err != nil {
			_ = sim.Close()
			return nil, telephonyOpts{}, fmt.Errorf("configure %s's number: %w", n.ID, err)
		}
	}
	return sim, telephonyOpts{
		accountSID: devTwilioAccountSID, authToken: devTwilioAuthToken, apiBaseURL: sim.URL(),
		publicBaseURL: publicBaseURL, cps: 1,
	}, nil
}
