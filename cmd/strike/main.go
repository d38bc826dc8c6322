// Command strike is Osprey Strike's single binary: `strike dev` runs the whole pipeline in one
// process on an embedded broker, `strike run <component>` runs one component against a real
// cluster, and the rest are operator and NOC-tool commands. `strike --help` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/osprey-strike/strike/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "strike:", err)
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	logLevel  string
	logFormat string
}

func (g *globals) logger() (zerolog.Logger, error) {
	return logging.New(os.Stderr, g.logLevel, logging.Format(g.logFormat))
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "strike",
		Short: "Osprey Strike: emergency callouts from NOC request to accepted field response",
		Long: `Osprey Strike numbers each emergency callout (ECO) with its OSP's next job number, rings the
OSP's on-call roster until someone accepts, follows the field job in the OSP's Render instance,
and keeps a tenant-scoped record both the NOC and the OSP can read.

Start everything locally with 'strike dev' (what 'make run' does). Every flag can also be set
through the environment variable named in its help.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", env("STRIKE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (STRIKE_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", env("STRIKE_LOG_FORMAT", "auto"), "log format: json, console, or auto = console on a terminal (STRIKE_LOG_FORMAT)")
	root.AddCommand(newDevCmd(g), newRunCmd(g), newMigrateCmd(g), newTopicsCmd(g), newECOCmd(g), newAdminCmd(g), newSinkCmd(g), newLagCmd(g), newKafkaCmd(), newDLQCmd(g), newStatusCmd(g))
	return root
}

// env returns the environment variable name's value, or def when it is unset or empty.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ignoreCanceled turns the context error of a requested shutdown into a clean exit.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
