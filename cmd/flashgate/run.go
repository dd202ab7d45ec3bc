package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/gateway/config"
)

// cmdRun implements "flashgate run [-config FILE]".
func cmdRun(args []string, _, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	path := fs.String("config", "config.hcl", "config `FILE`")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return fs.unexpected(pos[0])
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log, err := gateway.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate: %v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	gw, err := gateway.New(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := gw.Listen(ctx); err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	log.Info().Str("config", *path).Str("version", Version()).
		Int("listeners", len(cfg.Listeners)).Int("backends", len(cfg.Backends)).
		Int("policies", len(cfg.Policies)).Int("udp", len(cfg.UDP)).Msg("flashgate started")
	go reloadOnHUP(ctx, hup, gw, *path, log)
	if err := gw.Run(ctx); err != nil {
		log.Error().Err(err).Msg("stopped")
		return 1
	}
	log.Info().Msg("flashgate stopped")
	return 0
}

// reloadOnHUP re-reads the config file on every SIGHUP and hands a valid one
// to the gateway. An invalid config is logged with its diagnostics and the
// running one stays.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, gw *gateway.Gateway, path string, log zerolog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		log.Info().Str("config", path).Msg("SIGHUP: reloading")
		cfg, err := config.Load(path)
		if err != nil {
			log.Error().Str("config", path).Msg("reload refused; the running config stays:\n" + err.Error())
			continue
		}
		if err := gw.Reload(cfg); err != nil {
			log.Error().Err(err).Msg("reload failed")
		}
	}
}

// cmdValidate implements "flashgate validate [-config FILE]".
func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	path := fs.String("config", "config.hcl", "config `FILE`")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return fs.unexpected(pos[0])
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w)
	}
	fmt.Fprintf(stdout, "%s: valid (%s, %s, %s, %s)\n", *path,
		count(len(cfg.Listeners), "listener", "listeners"), count(len(cfg.Backends), "backend", "backends"),
		count(len(cfg.Policies), "policy", "policies"), count(len(cfg.UDP), "udp block", "udp blocks"))
	return 0
}

// count renders n with the singular or plural noun: "1 backend", "2 policies".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
