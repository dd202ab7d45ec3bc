package gateway

import (
	"fmt"
	"io"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/rs/zerolog"
)

// NewLogger builds the gateway's logger from the log block, writing to w.
func NewLogger(cfg config.Log, w io.Writer) (zerolog.Logger, error) {
	level := zerolog.InfoLevel
	if cfg.Level != "" {
		l, err := zerolog.ParseLevel(cfg.Level)
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("log level %q: %w", cfg.Level, err)
		}
		level = l
	}
	switch cfg.Format {
	case "", "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "2006-01-02T15:04:05.000Z07:00", NoColor: true}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want console or json", cfg.Format)
	}
	return zerolog.New(w).Level(level).Hook(timeHook{}), nil
}

// timeHook stamps each line with the time to the nanosecond (RFC 3339;
// zerolog's own Timestamp has one-second resolution unless a package
// variable is changed for the whole process).
type timeHook struct{}

// Run adds the time field.
func (timeHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().Format(time.RFC3339Nano))
}

// orNone names an empty reference in start-up lines.
func orNone(s string) string { return orDefault(s, "none") }

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// udpConfig returns the current config's udp block named name, or nil.
func (g *Gateway) udpConfig(name string) *config.UDP {
	for _, u := range g.config().UDP {
		if u.Name == name {
			return u
		}
	}
	return nil
}
