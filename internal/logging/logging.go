// Package logging builds Strike's zerolog logger: JSON lines by default, human-readable console
// output when the stream is a terminal. Field names for ids are fixed here so every component
// logs tenant and ECO ids the same way.
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Field names used across components.
const (
	FieldNOC       = "noc_tenant_id"
	FieldOSP       = "osp_tenant_id"
	FieldECO       = "eco_id"
	FieldRequest   = "request_id"
	FieldComponent = "component"
)

// Format is "json", "console" or "auto" (console on a terminal, JSON otherwise).
type Format string

// New returns a logger writing to w at level ("debug", "info", "warn", "error").
func New(w io.Writer, level string, format Format) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	switch format {
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	case "json":
	case "auto", "":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want json, console or auto", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
