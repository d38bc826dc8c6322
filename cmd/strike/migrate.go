package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/pg"
)

func newMigrateCmd(g *globals) *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (creates the database if missing)",
		Long: `Applies every pending migration embedded in this binary to DATABASE_URL, under a PostgreSQL
advisory lock so replicas starting together do not race. Safe to run repeatedly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := pg.EnsureDatabase(ctx, dbURL); err != nil {
				return err
			}
			pool, err := pg.Open(ctx, dbURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := pg.Migrate(ctx, pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database %s at schema version %d (%d migrations applied now)\n",
				pg.Redact(dbURL), res.Current, len(res.Applied))
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", env("DATABASE_URL", pg.DefaultURL), "PostgreSQL connection URL (DATABASE_URL)")
	return cmd
}
