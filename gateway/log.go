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
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want console or json", cfg.Format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
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
