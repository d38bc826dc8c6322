package main

// The sink and the gateway's tenant-scoped API: runtime wiring, `strike run sink`,
// `strike run gateway`, `strike sink rebuild`, `strike admin token|membership`, and the dev users
// `strike dev` creates.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/producers/gateway/web"
	"github.com/osprey-strike/strike/schemas"
)

// sinkOpts are the sink's own flags.
type sinkOpts struct {
	group string
}

func (rt *runtime) sink(o sinkOpts) (componentFunc, error) {
	pool, err := rt.db("sink")
	if err != nil {
		return nil, err
	}
	s, err := sink.New(sink.Deps{Pool: pool, Validator: rt.validator, Log: rt.log, Registry: rt.reg},
		sink.Config{Brokers: rt.brokers, Security: rt.securityOf("sink"), Group: o.group})
	if err != nil {
		return nil, err
	}
	rt.watchLag(sinkLagGroup(pool, o.group))
	return s.Run, nil
}

// gatewayOpts are the API's own flags.
type gatewayOpts struct {
	clientIPHeader        string
	tokenTTL, tokenMaxTTL time.Duration
	// devMode accepts the dev tokens and passwords of seedDevUsers. Only `strike dev` sets it;
	// it has no flag.
	devMode bool
	// insecureCookies drops Secure from the browser session cookie, for a gateway served over
	// plain HTTP (strike dev sets it).
	insecureCookies bool
}

func (o *gatewayOpts) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.clientIPHeader, "client-ip-header", env("STRIKE_CLIENT_IP_HEADER", ""),
		"header whose rightmost address is the client's, set by a trusted proxy in front (X-Forwarded-For, X-Real-IP); empty: the peer address. Failed authentications are rate-limited per client address (STRIKE_CLIENT_IP_HEADER)")
	cmd.Flags().DurationVar(&o.tokenTTL, "token-ttl", gateway.DefaultTokenTTL,
		"lifetime of a token created over HTTP without expires_in_days (default 90 days)")
	cmd.Flags().DurationVar(&o.tokenMaxTTL, "token-max-ttl", gateway.DefaultTokenMaxTTL,
		"longest lifetime a token created over HTTP may ask for (default 365 days)")
	cmd.Flags().BoolVar(&o.insecureCookies, "web-insecure-cookies", envBool("STRIKE_WEB_INSECURE_COOKIES"),
		"serve the browser UI's session cookie without Secure, for a gateway reached over plain HTTP with no TLS in front; never on a network others share (STRIKE_WEB_INSECURE_COOKIES)")
}

func envBool(name string) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && v
}

// gateway mounts the /v1 API on the ops server's mux; the component keeps its producer open
// until ctx ends.
func (rt *runtime) gateway(o gatewayOpts) (componentFunc, error) {
	pool, err := rt.db("gateway")
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(kafkaclient.Options(rt.brokers, rt.securityOf("gateway"), gateway.Name, rt.log, rt.reg),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	api, err := gateway.New(gateway.Deps{Pool: pool, Validator: rt.validator, Producer: cl, Log: rt.log, Registry: rt.reg},
		gateway.Config{ClientIPHeader: o.clientIPHeader, DevMode: o.devMode, TokenTTL: o.tokenTTL, TokenMaxTTL: o.tokenMaxTTL})
	if err != nil {
		cl.Close()
		return nil, err
	}
	api.Mount(rt.ops.Mux)
	ui, err := web.New(web.Deps{API: api, Pool: pool, Log: rt.log},
		web.Config{SecureCookies: !o.devMode && !o.insecureCookies})
	if err != nil {
		cl.Close()
		return nil, err
	}
	ui.Mount(rt.ops.Mux)
	return func(ctx context.Context) error {
		<-ctx.Done()
		ui.Close()
		cl.Close()
		return nil
	}, nil
}

func newRunSinkCmd(g *globals) *cobra.Command {
	var (
		conn connFlags
		opts sinkOpts
	)
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Project ECO, callout and Render events into the tenant-scoped PostgreSQL tables the API reads",
		Long: `Consumes strike.eco.events.v1, strike.callout.events.v1 and strike.render.changes.v1
(read-committed) and writes the ECO board, timeline and call attempts, with the consumed offsets
in the same PostgreSQL transaction. Replicas share partitions through the consumer group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd.Context(), g, conn, "sink", func(rt *runtime) (componentFunc, error) { return rt.sink(opts) })
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&opts.group, "group", env("STRIKE_SINK_GROUP", sink.DefaultGroup), "consumer group, also the key of the stored offsets (STRIKE_SINK_GROUP)")
	return cmd
}

func newRunGatewayCmd(g *globals) *cobra.Command {
	var (
		conn connFlags
		tel  telephonyOpts
		gw   gatewayOpts
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the tenant-scoped HTTP API (/v1) and Twilio's webhooks",
		Long: `Serves the /v1 API on --http-addr (/metrics and the detailed /readyz are on --ops-addr): who-am-I, ECO boards per NOC and per OSP, ECO detail,
HTTP intake and cancel of ECOs (produced to strike.eco.requests.v1), and system-admin routes.
Authenticate with a token from 'strike admin token create'. See docs/api.md.
With STRIKE_TWILIO_AUTH_TOKEN and --public-base-url set, it also accepts Twilio's status and
gather webhooks (signature-checked) and publishes them to strike.telephony.callbacks.v1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd.Context(), g, conn, "gateway", func(rt *runtime) (componentFunc, error) { return rt.gatewayWithWebhooks(tel, gw) })
		},
	}
	conn.register(cmd)
	conn.registerPublic(cmd)
	tel.register(cmd)
	gw.register(cmd)
	return cmd
}

func newSinkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sink", Short: "Sink maintenance: rebuild the projections"}
	var (
		kafka        kafkaFlags
		dbURL, group string
	)
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild every projection from the earliest offsets into fresh tables, then swap them in",
		Long: `Reads strike.eco.events.v1, strike.callout.events.v1 and strike.render.changes.v1 from their
earliest offsets up to their end offsets at the start, projects them into fresh tables in a
scratch schema, and swaps those in for the live tables in one transaction (readers see the old
tables or the new ones, never a mix). A running sink may stay up: it continues from the rebuilt
offsets. Progress (per-partition offsets against end offsets) is printed once a second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sec, err := kafka.load()
			if err != nil {
				return err
			}
			pool, err := pg.Open(ctx, dbURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			v, err := schemas.NewValidator()
			if err != nil {
				return err
			}
			_, err = sink.Rebuild(ctx, sink.Deps{Pool: pool, Validator: v, Log: log},
				sink.RebuildConfig{Brokers: kafka.brokers, Security: sec, Group: group, Progress: cmd.OutOrStdout()})
			return err
		},
	}
	kafka.register(rebuild)
	rebuild.Flags().StringVar(&dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	rebuild.Flags().StringVar(&group, "group", env("STRIKE_SINK_GROUP", sink.DefaultGroup), "the live sink's group: the rebuilt offsets are stored under it (STRIKE_SINK_GROUP)")
	cmd.AddCommand(rebuild)
	return cmd
}

// adminDB is the --database-url flag of admin commands.
func adminDB(cmd *cobra.Command, dbURL *string) {
	cmd.Flags().StringVar(dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
}

// maxTokenDays bounds --expires-in-days, as gateway.DefaultTokenMaxTTL bounds HTTP.
const maxTokenDays = int(gateway.DefaultTokenMaxTTL / (24 * time.Hour))

func newAdminTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "API tokens"}
	var (
		dbURL, user, name, label string
		systemAdmin              bool
		days                     int
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue an API token for a user (created if new); prints the token once",
		Long: `Issues a new random API token (stk_…) for --user and prints it once. Only its SHA-256 is
stored: a lost token cannot be recovered, only replaced. It expires after --expires-in-days
(default 90). The user is created if it does not
exist; --system-admin makes the user a Strike system admin. Give tenant access with
'strike admin membership add'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 || days > maxTokenDays {
				return fmt.Errorf("--expires-in-days %d: want 1..%d", days, maxTokenDays)
			}
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, dbURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			acc := gateway.Accounts{Pool: pool}
			_, created, err := acc.EnsureUser(ctx, user, name, systemAdmin)
			if err != nil {
				return err
			}
			token, _, err := acc.IssueToken(ctx, user, label, time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(cmd.ErrOrStderr(), "created user %s\n", user)
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	adminDB(create, &dbURL)
	create.Flags().StringVar(&user, "user", "", "the user's email (required)")
	create.Flags().StringVar(&name, "name", "", "display name, for a new user or to change it")
	create.Flags().StringVar(&label, "label", "", "what the token is for, e.g. 'noc dashboard'")
	create.Flags().BoolVar(&systemAdmin, "system-admin", false, "make the user a Strike system admin")
	create.Flags().IntVar(&days, "expires-in-days", int(gateway.DefaultTokenTTL/(24*time.Hour)), fmt.Sprintf("days until the token expires, 1..%d", maxTokenDays))
	_ = create.MarkFlagRequired("user")

	var revokeDB, revokeUser, revokeID string
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke one token of a user (--id, from 'token list'), or every token of the user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, revokeDB)
			if err != nil {
				return err
			}
			defer pool.Close()
			if revokeID != "" {
				if err := (gateway.Accounts{Pool: pool}).RevokeToken(ctx, revokeUser, revokeID); err != nil {
					return fmt.Errorf("revoke token %s of %s: %w", revokeID, revokeUser, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s of %s\n", revokeID, revokeUser)
				return nil
			}
			n, err := (gateway.Accounts{Pool: pool}).RevokeTokens(ctx, revokeUser)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %d tokens of %s\n", n, revokeUser)
			return nil
		},
	}
	adminDB(revoke, &revokeDB)
	revoke.Flags().StringVar(&revokeUser, "user", "", "the user's email (required)")
	revoke.Flags().StringVar(&revokeID, "id", "", "revoke only this token (an id from 'token list')")
	_ = revoke.MarkFlagRequired("user")

	var listDB, listUser string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a user's active tokens: id, label, created, expires, last used (never the secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, listDB)
			if err != nil {
				return err
			}
			defer pool.Close()
			items, err := (gateway.Accounts{Pool: pool}).ListTokens(ctx, listUser)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLABEL\tCREATED\tEXPIRES\tLAST USED")
			ts := func(t *time.Time, none string) string {
				if t == nil {
					return none
				}
				return t.UTC().Format(time.RFC3339)
			}
			for _, t := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.UTC().Format(time.RFC3339),
					ts(t.ExpiresAt, "never"), ts(t.LastUsedAt, "-"))
			}
			return tw.Flush()
		},
	}
	adminDB(list, &listDB)
	list.Flags().StringVar(&listUser, "user", "", "the user's email (required)")
	_ = list.MarkFlagRequired("user")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newAdminMembershipCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "membership", Short: "Tenant memberships of users"}
	var dbURL, user, noc, osp, role string
	add := &cobra.Command{
		Use:   "add",
		Short: "Give a user a role in a NOC (--noc) or an OSP (--osp)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (noc == "") == (osp == "") {
				return errors.New("give exactly one of --noc and --osp")
			}
			kind, tenant := gateway.KindNOC, noc
			if osp != "" {
				kind, tenant = gateway.KindOSP, osp
			}
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, dbURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := (gateway.Accounts{Pool: pool}).AddMembership(ctx, user, kind, tenant, role); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s of %s %s\n", user, role, kind, tenant)
			return nil
		},
	}
	adminDB(add, &dbURL)
	add.Flags().StringVar(&user, "user", "", "the user's email (required; create users with 'admin token create')")
	add.Flags().StringVar(&noc, "noc", "", "NOC tenant id")
	add.Flags().StringVar(&osp, "osp", "", "OSP tenant id")
	add.Flags().StringVar(&role, "role", gateway.RoleOperator, "admin, operator, agent or viewer")
	_ = add.MarkFlagRequired("user")

	var rmDB, rmUser, rmNOC, rmOSP string
	remove := &cobra.Command{
		Use:   "remove",
		Short: "Take a user's access to a NOC (--noc) or an OSP (--osp) away",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (rmNOC == "") == (rmOSP == "") {
				return errors.New("give exactly one of --noc and --osp")
			}
			kind, tenant := gateway.KindNOC, rmNOC
			if rmOSP != "" {
				kind, tenant = gateway.KindOSP, rmOSP
			}
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, rmDB)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := (gateway.Accounts{Pool: pool}).RemoveMembership(ctx, rmUser, kind, tenant); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s has no role in %s %s\n", rmUser, kind, tenant)
			return nil
		},
	}
	adminDB(remove, &rmDB)
	remove.Flags().StringVar(&rmUser, "user", "", "the user's email (required)")
	remove.Flags().StringVar(&rmNOC, "noc", "", "NOC tenant id")
	remove.Flags().StringVar(&rmOSP, "osp", "", "OSP tenant id")
	_ = remove.MarkFlagRequired("user")
	cmd.AddCommand(add, remove)
	return cmd
}

// devSeed derives the dev users' tokens. It is public, in the source: dev tokens are for a
// laptop, never for a shared deployment.
const devSeed = "strike-dev-only-seed-not-a-secret"

// seedDevUsers creates the demo users (devdata.Users) with deterministic tokens and browser
// passwords, idempotently, and prints them with a curl line and the sign-in address.
func seedDevUsers(ctx context.Context, owner *pgxpool.Pool, httpAddr string, out io.Writer) error {
	acc := gateway.Accounts{Pool: owner}
	var b strings.Builder
	fmt.Fprintf(&b, "Demo users (DEV-ONLY tokens and passwords, derived from a public seed; the same at every start;\na gateway outside strike dev refuses them). Sign in at http://%s/\n\n", httpAddr)
	fmt.Fprintf(&b, "  %-20s %-26s %-21s %s\n", "WHO", "EMAIL (sign-in)", "PASSWORD", "API TOKEN")
	for _, u := range devdata.Users {
		if _, _, err := acc.EnsureUser(ctx, u.Email, u.Name, u.SystemAdmin); err != nil {
			return err
		}
		for _, m := range u.Memberships {
			if err := acc.AddMembership(ctx, u.Email, m.Kind, m.Tenant, m.Role); err != nil {
				return err
			}
		}
		token := gateway.DevToken(devSeed, u.Email)
		if err := acc.StoreToken(ctx, u.Email, token, "strike dev"); err != nil {
			return err
		}
		password := gateway.DevPassword(devSeed, u.Email)
		if err := acc.SetPassword(ctx, u.Email, password, true); err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %-20s %-26s %-21s %s\n", u.What, u.Email, password, token)
	}
	fmt.Fprintf(&b, "\nTry:\n\n  curl -s -H 'Authorization: Bearer %s' http://%s/v1/nocs/%s/ecos\n  curl -s -H 'Authorization: Bearer %s' http://%s/v1/me\n\n",
		gateway.DevToken(devSeed, devdata.Users[0].Email), httpAddr, devdata.NOCNorthwind,
		gateway.DevToken(devSeed, devdata.Users[4].Email), httpAddr)
	_, err := io.WriteString(out, b.String())
	return err
}
