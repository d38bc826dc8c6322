package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/producers/gateway"
)

// newAdminPasswordCmd sets browser sign-in passwords (docs/ui.md). The password is read from
// the terminal with echo off, or from stdin: never from a flag.
func newAdminPasswordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "password", Short: "Browser sign-in passwords"}
	var dbURL, user string
	set := &cobra.Command{
		Use:   "set",
		Short: "Set a user's sign-in password (read from the terminal, or stdin)",
		Long: fmt.Sprintf(`Sets the password the user signs in to the browser UI with: %d to %d characters, stored
as an argon2id hash. Create the user first ('strike admin token create --user ...').`, gateway.MinPasswordLen, gateway.MaxPasswordLen),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := readSecret(cmd, "New password for "+user)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := pg.Open(ctx, dbURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := (gateway.Accounts{Pool: pool}).SetPassword(ctx, user, secret.Reveal(), false); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password set for %s\n", strings.ToLower(strings.TrimSpace(user)))
			return nil
		},
	}
	adminDB(set, &dbURL)
	set.Flags().StringVar(&user, "user", "", "the user's email (required)")
	_ = set.MarkFlagRequired("user")
	cmd.AddCommand(set)
	return cmd
}
