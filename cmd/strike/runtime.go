package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/opsserver"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/schemas"
)

// dbConnectTimeout bounds a component's first connection to PostgreSQL.
const dbConnectTimeout = 30 * time.Second

// runtime is what every component is built from: the composition root's shared pieces.
type runtime struct {
	log      zerolog.Logger
	reg      *prometheus.Registry
	dbURL    string                   // DATABASE_URL: a component's URL when it has no own one
	dbURLs   map[string]string        // per-component URLs set by `strike dev` (its login roles)
	pools    map[string]*pgxpool.Pool // by component name, opened by db
	brokers  string
	security kafkaclient.Security
	// componentSecurity overrides security per component (kafkaacl.Components names): strike dev
	// runs every component in one process, each as its own principal.
	componentSecurity map[string]kafkaclient.Security
	validator         *schemas.Validator
	ops               *opsserver.Server
	publicLn          net.Listener // nil for components without public routes
	opsLn             net.Listener
	lag               *lagExporter // consumer lag of the components' groups; nil until one is watched
}

// newRuntime binds the HTTP addresses first (a taken port fails at once); each component then
// connects to PostgreSQL with its own role (rt.db). httpAddr is the public listener (API, webhooks), empty for components without
// public routes; opsAddr is the operations listener (/metrics, detailed /readyz).
func newRuntime(log zerolog.Logger, dbURL, brokers string, sec kafkaclient.Security, httpAddr, opsAddr string) (*runtime, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ops := opsserver.New(log, reg)
	reg.MustRegister(ops.ReadinessCollector())
	rt := &runtime{log: log, reg: reg, brokers: brokers, security: sec, ops: ops, dbURL: dbURL,
		dbURLs: map[string]string{}, pools: map[string]*pgxpool.Pool{}}
	fail := func(err error) (*runtime, error) {
		for _, ln := range []net.Listener{rt.publicLn, rt.opsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		return nil, err
	}
	var err error
	if httpAddr != "" {
		if rt.publicLn, err = ops.Listen(httpAddr); err != nil {
			return fail(fmt.Errorf("listen on %s (set --http-addr): %w", httpAddr, err))
		}
	}
	if rt.opsLn, err = ops.Listen(opsAddr); err != nil {
		return fail(fmt.Errorf("listen on %s (set --ops-addr): %w", opsAddr, err))
	}
	if rt.validator, err = schemas.NewValidator(); err != nil {
		return fail(err)
	}
	return rt, nil
}

// securityOf is how component connects: its own principal in strike dev, the process's
// settings otherwise.
func (rt *runtime) securityOf(component string) kafkaclient.Security {
	if sec, ok := rt.componentSecurity[component]; ok {
		return sec
	}
	return rt.security
}

// db is the pool of component (a pg.Components name), opened on first use with the component's
// own URL: STRIKE_<COMPONENT>_DATABASE_URL, else DATABASE_URL (pg.ComponentURL), or the login
// role `strike dev` made for it. Each pool gets its own readiness check. Components are built at
// start, so connecting is bounded by dbConnectTimeout rather than a caller's context.
func (rt *runtime) db(component string) (*pgxpool.Pool, error) {
	if p, ok := rt.pools[component]; ok {
		return p, nil
	}
	c, ok := pg.ComponentNamed(component)
	if !ok {
		return nil, fmt.Errorf("no database role for component %q", component)
	}
	url := rt.dbURLs[component]
	if url == "" {
		url = pg.ComponentURL(c, rt.dbURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbConnectTimeout)
	defer cancel()
	p, err := pg.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (set %s or DATABASE_URL)", component, err, c.URLEnv())
	}
	rt.pools[component] = p
	rt.ops.AddCheck("postgres-"+component, func(ctx context.Context) error { return p.Ping(ctx) })
	return p, nil
}

func (rt *runtime) close() {
	rt.lag.close()
	for _, p := range rt.pools {
		p.Close()
	}
}

// componentFunc runs one component until ctx ends.
type componentFunc func(ctx context.Context) error

// serve runs the HTTP server and every component until ctx ends or one fails; a failure stops
// the others, so the process exits and its supervisor restarts it.
func (rt *runtime) serve(ctx context.Context, components map[string]componentFunc) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rt.ops.Serve(ctx, rt.publicLn, rt.opsLn) })
	for name, run := range components {
		g.Go(func() error {
			if err := run(ctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// ecoProcessorOpts are the eco-processor's own flags.
type ecoProcessorOpts struct {
	group           string
	transactionalID string
}

func (rt *runtime) ecoProcessor(o ecoProcessorOpts) (componentFunc, error) {
	pool, err := rt.db("eco-processor")
	if err != nil {
		return nil, err
	}
	p, err := ecoprocessor.New(ecoprocessor.Deps{
		Store: ecoprocessor.PGStore{Pool: pool}, Validator: rt.validator, Log: rt.log, Registry: rt.reg,
	}, ecoprocessor.Config{Brokers: rt.brokers, Security: rt.securityOf("eco-processor"), Group: o.group, TransactionalID: o.transactionalID})
	if err != nil {
		return nil, err
	}
	rt.watchLag(lagGroup(groupECOProcessor, o.group))
	return p.Run, nil
}
