package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/producers/renderpoller"
)

// adminRender is what every `strike admin render` subcommand needs.
type adminRender struct {
	dbURL string
}

// open connects to PostgreSQL and loads STRIKE_SECRET_KEYS (list works without it: it never
// opens a secret).
func (a *adminRender) open(cmd *cobra.Command) (renderpoller.Admin, *pgxpool.Pool, error) {
	var kr *secrets.Keyring
	if cmd.Name() != "list" {
		var err error
		if kr, err = keyring(keyringAdmin, nil); err != nil {
			return renderpoller.Admin{}, nil, err
		}
	}
	pool, err := pg.Open(cmd.Context(), a.dbURL)
	if err != nil {
		return renderpoller.Admin{}, nil, err
	}
	return renderpoller.Admin{Pool: pool, Keyring: kr}, pool, nil
}

func newAdminRenderCmd(_ *globals) *cobra.Command {
	a := &adminRender{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Manage OSPs' Render instances and the keys that seal their client secrets",
		Long: `Adds, lists, changes and removes the Render instance(s) of an OSP. The client secret is read
from a prompt (input hidden) or from stdin, never from a flag, and is stored sealed with
AES-256-GCM under the newest key of STRIKE_SECRET_KEYS. 'rotate-keys' re-seals every secret
under the newest key; see docs/render-api.md §7 for the rotation steps.`,
	}
	cmd.PersistentFlags().StringVar(&a.dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	cmd.AddCommand(a.addCmd(), a.listCmd(), a.updateCmd(), a.removeCmd(), a.rotateCmd())
	return cmd
}

func (a *adminRender) addCmd() *cobra.Command {
	var spec renderpoller.InstanceSpec
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Register an OSP's Render instance (secret from a prompt or stdin)",
		Example: `  printf '%s' "$RENDER_SECRET" | strike admin render add --id acme-main --osp osp-acme \
      --base-url https://acme.render.example --client-id strike-acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := readSecret(cmd, "Render client secret for "+spec.ID)
			if err != nil {
				return err
			}
			admin, pool, err := a.open(cmd)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := admin.Add(cmd.Context(), spec, secret); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added Render instance %s for %s (secret sealed under key %s)\n", spec.ID, spec.OSPTenantID, admin.Keyring.NewestKeyID())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.ID, "id", "", "instance id, e.g. acme-main (lower-case, digits, dashes; fixed once created)")
	f.StringVar(&spec.OSPTenantID, "osp", "", "OSP tenant id")
	f.StringVar(&spec.BaseURL, "base-url", "", "the instance's API root, e.g. https://acme.render.example")
	f.StringVar(&spec.ClientID, "client-id", "", "API client id issued by Render")
	f.DurationVar(&spec.PollInterval, "interval", renderpoller.DefaultPollInterval, "polling interval")
	f.StringVar(&spec.Region, "region", "", "serve only ECOs of this region (empty: the OSP's default instance)")
	f.BoolVar(&spec.Disabled, "disabled", false, "register without polling or dispatching yet")
	for _, n := range []string{"id", "osp", "base-url", "client-id"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func (a *adminRender) listCmd() *cobra.Command {
	var (
		osp    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List Render instances with their polling state (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, pool, err := a.open(cmd)
			if err != nil {
				return err
			}
			defer pool.Close()
			list, err := admin.List(cmd.Context(), osp)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tOSP\tREGION\tENABLED\tINTERVAL\tKEY\tOWNER\tLAST POLL\tRESULT\tBASE URL")
			for _, in := range list {
				last := "-"
				if in.LastPollAt != nil {
					last = in.LastPollAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.OSPTenantID, or(in.Region, "*"), in.Enabled,
					in.PollInterval, in.SecretKeyID, or(in.Owner, "-"), last, or(in.LastResult, "-"), in.BaseURL)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&osp, "osp", "", "only this OSP's instances")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *adminRender) updateCmd() *cobra.Command {
	var (
		baseURL, clientID, region string
		interval                  time.Duration
		enable, disable, secret   bool
	)
	cmd := &cobra.Command{
		Use:   "update <id>",
		Short: "Change an instance; --secret reads a new client secret from a prompt or stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u renderpoller.InstanceUpdate
			f := cmd.Flags()
			if f.Changed("base-url") {
				u.BaseURL = &baseURL
			}
			if f.Changed("client-id") {
				u.ClientID = &clientID
			}
			if f.Changed("region") {
				u.Region = &region
			}
			if f.Changed("interval") {
				u.PollInterval = &interval
			}
			switch {
			case enable && disable:
				return fmt.Errorf("--enable and --disable contradict each other")
			case enable || disable:
				u.Enabled = &enable
			}
			if secret {
				s, err := readSecret(cmd, "New Render client secret for "+args[0])
				if err != nil {
					return err
				}
				u.Secret = &s
			}
			admin, pool, err := a.open(cmd)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := admin.Update(cmd.Context(), args[0], u); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "updated Render instance %s\n", args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseURL, "base-url", "", "new API root")
	f.StringVar(&clientID, "client-id", "", "new API client id")
	f.StringVar(&region, "region", "", "new region ('' for the OSP's default instance)")
	f.DurationVar(&interval, "interval", 0, "new polling interval")
	f.BoolVar(&enable, "enable", false, "resume polling and dispatching")
	f.BoolVar(&disable, "disable", false, "stop polling and dispatching (the cursor is kept)")
	f.BoolVar(&secret, "secret", false, "read a new client secret from a prompt or stdin")
	return cmd
}

func (a *adminRender) removeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove <id>",
		Short: "Delete an instance and its cursor",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, pool, err := a.open(cmd)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := admin.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed Render instance %s\n", args[0])
			return nil
		},
	}
}

func (a *adminRender) rotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-keys",
		Short: "Re-seal every Render client secret under the newest key of STRIKE_SECRET_KEYS",
		Long: `Opens every stored Render client secret and re-seals those not under the newest key (the
last one in STRIKE_SECRET_KEYS), in one transaction. Prints how many were rotated, were already
current and could not be opened. Drop an old key only once a run reports 0 rotated and 0 failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, pool, err := a.open(cmd)
			if err != nil {
				return err
			}
			defer pool.Close()
			rep, err := admin.RotateKeys(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "newest key %s: %d secrets, %d rotated, %d already current, %d failed\n",
				admin.Keyring.NewestKeyID(), rep.Total, rep.Rotated, rep.Current, rep.Failed)
			if rep.Rebound > 0 {
				fmt.Fprintf(out, "  %d of the rotated were sealed before the base URL and client id binding and are now bound to the ones stored\n", rep.Rebound)
			}
			for _, f := range rep.Failures {
				fmt.Fprintln(out, "  failed:", f)
			}
			if rep.Failed > 0 {
				return fmt.Errorf("%d secrets could not be opened; keep the old keys until they are fixed", rep.Failed)
			}
			return nil
		},
	}
}

// readSecret reads a secret from the terminal with echo off, or from stdin when it is not a
// terminal (one line; a trailing newline is dropped). Never from a flag: flags end up in shell
// history and in process listings.
func readSecret(cmd *cobra.Command, prompt string) (secrets.Secret, error) {
	in := cmd.InOrStdin()
	var (
		line string
		err  error
	)
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt+": ")
		line, err = readHidden(f)
		fmt.Fprintln(cmd.ErrOrStderr())
	} else {
		line, err = bufio.NewReader(in).ReadString('\n')
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("read the secret: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%w on stdin", errNoSecret)
	}
	return secrets.Secret(line), nil
}
