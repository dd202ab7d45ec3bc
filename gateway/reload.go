package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/tlsterm"
)

// Reload swaps in cfg while the gateway runs (SIGHUP). cfg must be a loaded,
// valid config (LoadConfig); on an error nothing changes unless the error
// says otherwise.
//
//   - A listener whose name, address and reuse_port are unchanged keeps its
//     socket; its route (policy answer, backend, limits, timeouts) is swapped
//     atomically, so there is no moment without a listener. Connections in
//     flight keep the route they started with.
//   - New listeners open. Removed ones (or those whose address or reuse_port
//     changed: a remove and an add) stop accepting; their connections drain
//     on their own. New sockets open before anything is swapped, so a bind
//     failure leaves the old config running — except for a new listener
//     whose address a removed one holds: it can only bind after the old
//     socket closed, and a failure there is returned with the rest applied.
//   - Backends get new pools; a server whose backend name and address
//     survive keeps its health and its count of open connections. Active
//     health checks restart.
//   - A changed admin address restarts the admin server (the new one opens
//     first); a changed token applies at once.
//   - shutdown_timeout and log settings: shutdown_timeout applies; the log
//     level and format need a restart.
func (g *Gateway) Reload(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("reload: nil config")
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.stopped {
		return ErrStopped
	}
	old := g.gen.Load()
	if old == nil {
		return errors.New("reload: gateway not listening yet")
	}
	gen := g.newGeneration(cfg, old)
	retiredTLS, err := g.buildTLS(gen, old)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			closeTerminators(g.log, retiredTLS)
			return
		}
		var fresh []*tlsterm.Terminator
		for name, lt := range gen.tls {
			if old.tls[name] != lt {
				fresh = append(fresh, lt.term)
			}
		}
		closeTerminators(g.log, fresh)
	}()

	g.lmu.Lock()
	cur := append([]*listener(nil), g.listeners...)
	g.lmu.Unlock()
	byName := make(map[string]*listener, len(cur))
	for _, l := range cur {
		byName[l.name] = l
	}
	type added struct {
		lc *config.Listener
		rt *route
		ln *net.TCPListener
	}
	keep := make(map[*listener]*route)
	var adds []*added
	for _, lc := range cfg.Listeners {
		rt, err := buildRoute(cfg, lc, gen)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		if l := byName[lc.Name]; l != nil && l.address == lc.Address && l.reusePort == lc.ReusePort {
			keep[l] = rt
			continue
		}
		adds = append(adds, &added{lc: lc, rt: rt})
	}
	var removed []*listener
	held := map[string]bool{} // addresses that removed listeners still hold
	for _, l := range cur {
		if _, ok := keep[l]; !ok {
			removed = append(removed, l)
			held[l.ln.Addr().String()] = true
			held[l.address] = true
		}
	}
	closeOpened := func() {
		for _, a := range adds {
			if a.ln != nil {
				a.ln.Close()
			}
		}
	}
	// Phase 1: open what can open beside the old sockets.
	var later []*added
	for _, a := range adds {
		if held[a.lc.Address] && !strings.HasSuffix(a.lc.Address, ":0") {
			later = append(later, a)
			continue
		}
		ln, err := listenTCP(context.Background(), a.lc.Address, a.lc.ReusePort)
		if err != nil {
			closeOpened()
			return fmt.Errorf("reload: listener %q: %w", a.lc.Name, err)
		}
		a.ln = ln
	}
	var newAdmin *adminServer
	if cfg.Admin != nil && (g.admin == nil || g.admin.address != cfg.Admin.Address) {
		a, err := g.listenAdmin(context.Background(), cfg.Admin)
		if err != nil {
			closeOpened()
			return fmt.Errorf("reload: %w", err)
		}
		newAdmin = a
	}

	// Phase 2: commit. Routes first, so kept listeners serve the new config
	// from their next accept on.
	for l, rt := range keep {
		l.route.Store(rt)
	}
	for _, l := range removed {
		l.close()
	}
	var errs []error
	for _, a := range later {
		ln, err := listenTCP(context.Background(), a.lc.Address, a.lc.ReusePort)
		if err != nil {
			errs = append(errs, fmt.Errorf("reload: listener %q: %w", a.lc.Name, err))
			continue
		}
		a.ln = ln
	}
	var next []*listener
	var started []*listener
	for _, lc := range cfg.Listeners {
		if l := byName[lc.Name]; l != nil && keep[l] != nil {
			next = append(next, l)
			continue
		}
		for _, a := range adds {
			if a.lc == lc && a.ln != nil {
				l := g.newListener(lc, a.rt, a.ln)
				next = append(next, l)
				started = append(started, l)
			}
		}
	}
	g.lmu.Lock()
	g.listeners = next
	for _, l := range removed {
		if l.active.Load() > 0 {
			g.retired = append(g.retired, l)
		}
	}
	if cfg.Log != g.cfg.Log {
		// The loggers are built once, at start, from the log block.
		g.log.Warn().Str("level", cfg.Log.Level).Str("format", cfg.Log.Format).
			Msg("log level and format changes take effect at the next start, not on reload")
	}
	g.cfg = cfg
	g.lmu.Unlock()
	g.gen.Store(gen)
	committed = true
	if g.running {
		for _, l := range started {
			g.startListener(l)
		}
		g.startHealth(gen)
	}
	if old.cancel != nil {
		old.cancel()
	}
	g.swapAdmin(cfg.Admin, newAdmin)
	if err := g.reloadUDP(cfg, g.running); err != nil {
		errs = append(errs, err)
	}

	names := func(ls []*listener) []string {
		var s []string
		for _, l := range ls {
			s = append(s, l.name)
		}
		return s
	}
	g.log.Info().Int("listeners", len(next)).Strs("added", names(started)).Strs("removed", names(removed)).
		Int("kept", len(keep)).Int("backends", len(cfg.Backends)).Msg("config reloaded")
	for _, w := range cfg.Warnings {
		g.log.Warn().Msg(w)
	}
	return errors.Join(errs...)
}
