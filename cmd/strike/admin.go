package main

import "github.com/spf13/cobra"

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "System-admin tasks: API tokens, Render instances, key rotation",
	}
	cmd.AddCommand( /* subcommands are added here, one per line */
		newAdminRenderCmd(g),
		newAdminTokenCmd(), newAdminMembershipCmd(),
		newAdminPasswordCmd(),
	)
	return cmd
}
