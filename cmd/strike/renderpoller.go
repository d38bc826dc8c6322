package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/producers/renderpoller"
)

// devSecretKeys is the keyring `strike dev` uses when STRIKE_SECRET_KEYS is unset. It is public
// (it is in this file), so it protects nothing: DEV ONLY. `strike run` and `strike admin`
// refuse to start without STRIKE_SECRET_KEYS, and `strike run` refuses a keyring holding it.
const devSecretKeys = secrets.DevKeyID + ":ZGV2LW9ubHktaW5zZWN1cmUta2V5LW5vdC1zZWNyZXQ="

// keyringUse says who loads the keyring, which decides what it may hold.
type keyringUse int

const (
	// keyringRun: `strike run`; the dev-only key is refused anywhere in the keyring.
	keyringRun keyringUse = iota
	// keyringAdmin: `strike admin render`; the dev-only key may be an older key (so rotate-keys
	// can move secrets off it) but never the newest, which seals.
	keyringAdmin
	// keyringDev: `strike dev`; without STRIKE_SECRET_KEYS it falls back to the dev-only key.
	keyringDev
)

func (u keyringUse) String() string {
	return [...]string{"run", "admin", "dev"}[u]
}

// keyring reads STRIKE_SECRET_KEYS for use; log takes the dev fallback's warning.
func keyring(use keyringUse, log func(string)) (*secrets.Keyring, error) {
	v := os.Getenv(secrets.EnvKeys)
	if v == "" {
		if use != keyringDev {
			return nil, fmt.Errorf("%s is not set: it holds the keys that seal Render client secrets, e.g. %s=k1:$(openssl rand -base64 32)", secrets.EnvKeys, secrets.EnvKeys)
		}
		log(secrets.EnvKeys + " is not set: sealing Render secrets with the built-in DEV-ONLY key, which is public")
		v = devSecretKeys
	}
	kr, err := secrets.ParseKeyring(v)
	if err != nil {
		return nil, err
	}
	const fix = "its key is public (in Strike's source, for strike dev). Put a new key last, e.g. k1:$(openssl rand -base64 32), run 'strike admin render rotate-keys' to re-seal every Render secret under it, then remove %[2]s from %[1]s"
	switch {
	case use == keyringRun && kr.Has(secrets.DevKeyID):
		return nil, fmt.Errorf("%s holds the dev-only key id %q, which strike run refuses: "+fix, secrets.EnvKeys, secrets.DevKeyID)
	case use == keyringAdmin && kr.NewestKeyID() == secrets.DevKeyID:
		return nil, fmt.Errorf("%s has the dev-only key id %q as its newest key, which would seal secrets: "+fix, secrets.EnvKeys, secrets.DevKeyID)
	}
	return kr, nil
}

// renderPollerOpts are the render-poller's own flags.
type renderPollerOpts struct {
	replicaID      string
	dispatchGroup  string
	leaseTTL       time.Duration
	maxConcurrency int
}

// renderPoller runs the poller and the dispatch together: both follow the same Render
// instances, and one process per replica is simpler to operate.
func (rt *runtime) renderPoller(kr *secrets.Keyring, o renderPollerOpts) (componentFunc, error) {
	pool, err := rt.db("render-poller")
	if err != nil {
		return nil, err
	}
	p, err := renderpoller.New(renderpoller.Deps{Pool: pool, Keyring: kr, Log: rt.log, Registry: rt.reg},
		renderpoller.Config{Brokers: rt.brokers, Security: rt.securityOf("render-poller"), ReplicaID: o.replicaID, LeaseTTL: o.leaseTTL, MaxConcurrentPolls: o.maxConcurrency})
	if err != nil {
		return nil, err
	}
	rt.ops.AddCheck("render-poller-leases", p.Ready)
	d, err := renderpoller.NewDispatcher(renderpoller.DispatchDeps{Pool: pool, Keyring: kr, Validator: rt.validator, Log: rt.log, Registry: rt.reg},
		renderpoller.DispatchConfig{Brokers: rt.brokers, Security: rt.securityOf("render-poller"), ReplicaID: p.ReplicaID(), Group: o.dispatchGroup})
	if err != nil {
		return nil, err
	}
	rt.watchLag(lagGroup(groupRenderDispatch, o.dispatchGroup))
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return p.Run(ctx) })
		g.Go(func() error { return d.Run(ctx) })
		return g.Wait()
	}, nil
}

// devRender starts the Render simulator on a free loopback port with one instance per demo OSP,
// registers those instances (idempotently: a restart only updates the URL and secret), and
// runs the poller and the dispatch against them. Jobs move on a short schedule, so a demo ECO's
// field status changes within a minute.
func (rt *runtime) devRender(ctx context.Context, owner *pgxpool.Pool) (componentFunc, error) {
	kr, err := keyring(keyringDev, func(msg string) { rt.log.Warn().Msg(msg) })
	if err != nil {
		return nil, err
	}
	sim := rendersim.New(rendersim.SystemClock{}, rendersim.Config{
		Schedule:    rendersim.Schedule{EnRoute: 10 * time.Second, OnSite: 15 * time.Second, Resolved: 20 * time.Second},
		JobIDPrefix: fmt.Sprintf("job-%x-", time.Now().Unix()),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("render simulator: %w", err)
	}
	root := "http://" + ln.Addr().String()
	admin := renderpoller.Admin{Pool: owner, Keyring: kr} // instances are the owner's to write
	for _, osp := range devdata.OSPs {
		id := osp.ID + "-sim"
		secret := secrets.Secret("dev-" + secrets.GenerateKey()) // fresh each start: the simulator forgets
		if err := sim.AddInstance(id, id+"-client", secret.Reveal()); err != nil {
			ln.Close()
			return nil, err
		}
		if _, err := admin.Upsert(ctx, renderpoller.InstanceSpec{
			ID: id, OSPTenantID: osp.ID, BaseURL: rendersim.BaseURL(root, id), ClientID: id + "-client",
			PollInterval: 2 * time.Second,
		}, secret); err != nil {
			ln.Close()
			return nil, fmt.Errorf("register the simulator's instance for %s: %w", osp.ID, err)
		}
	}
	rt.log.Info().Str("url", root).Int("instances", len(devdata.OSPs)).Msg("render simulator serving")
	run, err := rt.renderPoller(kr, renderPollerOpts{replicaID: "strike-dev", dispatchGroup: "strike-render-dispatch", leaseTTL: 6 * time.Second})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return sim.Serve(ctx, ln) })
		g.Go(func() error { return run(ctx) })
		return g.Wait()
	}, nil
}

func newRunRenderPollerCmd(g *globals) *cobra.Command {
	var (
		conn connFlags
		opts renderPollerOpts
	)
	cmd := &cobra.Command{
		Use:   "render-poller",
		Short: "Follow each OSP's Render instance and create the Render job of every new ECO",
		Long: `Polls every enabled Render instance (strike admin render add) on its own interval with its
own credentials and publishes each job change to strike.render.changes.v1; consumes
strike.eco.events.v1 and creates each new ECO's job in its OSP's instance (idempotent on the
job number), publishing the outcome as strike.render.dispatch.v1.

Replicas share the instances through leases in PostgreSQL: run as many as you like. Needs
STRIKE_SECRET_KEYS (the keys that seal the Render client secrets), a migrated database and
the topics.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			kr, err := keyring(keyringRun, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rt, err := conn.open(ctx, log.With().Str(logging.FieldComponent, renderpoller.Name).Logger(), renderpoller.Name)
			if err != nil {
				return err
			}
			defer rt.close()
			run, err := rt.renderPoller(kr, opts)
			if err != nil {
				return err
			}
			return ignoreCanceled(rt.serve(ctx, map[string]componentFunc{"render-poller": run}))
		},
	}
	conn.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.replicaID, "replica-id", env("STRIKE_REPLICA_ID", ""), "this replica's id in leases, unique among live replicas; default <hostname>-<pid>-<random> (STRIKE_REPLICA_ID)")
	f.StringVar(&opts.dispatchGroup, "dispatch-group", env("STRIKE_RENDER_DISPATCH_GROUP", "strike-render-dispatch"), "consumer group of the dispatch on strike.eco.events.v1 (STRIKE_RENDER_DISPATCH_GROUP)")
	f.DurationVar(&opts.leaseTTL, "lease-ttl", renderpoller.DefaultLeaseTTL, "how long an instance's lease lasts unrenewed; a dead replica's instances are polled again within about this plus a third of it")
	f.IntVar(&opts.maxConcurrency, "max-concurrent-polls", renderpoller.DefaultMaxConcurrentPolls, "polls in flight at once on this replica")
	return cmd
}

var errNoSecret = errors.New("no secret given")
