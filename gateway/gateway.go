package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/tlsterm"
)

// ErrStopped is returned by Reload after Run began shutting down.
var ErrStopped = errors.New("gateway stopped")

// Gateway runs the listeners of one config. Create it with New, start it
// with Run; Reload swaps in a new config while it runs.
type Gateway struct {
	cfg     *config.Config // the current config: written by Reload under lmu (read it through config())
	log     zerolog.Logger
	metrics *metrics
	started time.Time

	ctx    context.Context // every dial and handshake uses it: canceled when shutdown_timeout passes or Run returns
	nextID atomic.Uint64
	gen    atomic.Pointer[generation] // backends, certificates: replaced by Reload

	reloadMu  sync.Mutex // serializes Listen, Reload and Run's start and stop
	running   bool       // Run started the listeners
	stopped   bool       // Run is shutting down
	serveWG   sync.WaitGroup
	admin     *adminServer
	draining  atomic.Bool // shutting down: /healthz answers 503
	lmu       sync.Mutex
	listeners []*listener // current listeners (guarded by lmu)
	retired   []*listener // removed by a reload, reported while connections drain

	mu    sync.Mutex
	conns map[*conn]struct{}
	idle  chan struct{} // closed when conns becomes empty during drain
	drain bool
	udp   map[string]*UDPMetrics
	// udpBlocks are the running udp blocks by name (guarded by mu).
	udpBlocks map[string]*udpBlock

	// loops relay the connections of evented routes (route.evented); nil
	// where they could not start (those connections then take goroutines).
	loops     *evloop.Loops
	loopCount int // event loops to start: GOMAXPROCS when 0, none when < 0 (tests)

	// resolver looks up backend host names; nil is net.DefaultResolver
	// (tests set one that never leaves the machine).
	resolver *net.Resolver

	revocation *tlsterm.RevocationChecker // shared by every backend's TLS dialer: one cache

	handshakeTimeout time.Duration // a client's TLS handshake: tlsHandshakeTimeout (tests shorten it)
}

// generation is what one config builds besides listeners: backend pools
// (shared by the listeners that name them) and the certificates shown on
// the status page. Connections keep the generation of the route they
// started with.
type generation struct {
	cfg    *config.Config
	pools  map[string]*backend
	tls    map[string]*listenerTLS // TLS termination by listener name
	certs  []certState
	cancel context.CancelFunc // stops the health checks, once started
}

// terminators returns the TLS terminators of gen's listeners.
func (gen *generation) terminators() []*tlsterm.Terminator {
	var ts []*tlsterm.Terminator
	for _, lt := range gen.tls {
		ts = append(ts, lt.term)
	}
	return ts
}

// New builds a gateway for cfg. It opens no socket: Run does.
func New(cfg *config.Config, log zerolog.Logger) (*Gateway, error) {
	if cfg == nil {
		return nil, errors.New("gateway: nil config")
	}
	g := &Gateway{cfg: cfg, log: log, started: time.Now(), conns: make(map[*conn]struct{}), udp: make(map[string]*UDPMetrics)}
	g.metrics = newMetrics(g)
	g.revocation = tlsterm.NewRevocationChecker(tlsterm.RevocationOptions{})
	g.handshakeTimeout = tlsHandshakeTimeout
	return g, nil
}

// config returns the current config.
func (g *Gateway) config() *config.Config {
	g.lmu.Lock()
	defer g.lmu.Unlock()
	return g.cfg
}

// newGeneration builds pools and reads certificates for cfg; servers of
// prev's pools with the same backend name and address keep their state.
func (g *Gateway) newGeneration(cfg *config.Config, prev *generation) *generation {
	var prevPools map[string]*backend
	if prev != nil {
		prevPools = prev.pools
	}
	return &generation{cfg: cfg, pools: newPools(cfg, prevPools, g.metrics, g.resolver), certs: loadCerts(cfg)}
}

// startHealth starts the active health checks of gen's pools.
func (g *Gateway) startHealth(gen *generation) {
	ctx, cancel := context.WithCancel(g.ctx)
	gen.cancel = cancel
	for _, b := range gen.pools {
		if b.cfg.HealthCheck != nil && len(b.servers) > 0 {
			go b.checkHealth(ctx, g.log)
		}
		go b.resolveServers(ctx, g.log)
	}
}

// buildRoute prepares what a listener needs per connection: the policy
// answer rendered once, and its backend from pools.
func buildRoute(cfg *config.Config, lc *config.Listener, gen *generation) (*route, error) {
	pools := gen.pools
	rt := &route{cfg: lc, conf: cfg, tls: gen.tls[lc.Name]}
	if lc.Policy != "" {
		pc := cfg.Policy(lc.Policy)
		if pc == nil || pc.Policy == nil {
			return nil, fmt.Errorf("listener %q: policy %q is not defined", lc.Name, lc.Policy)
		}
		rt.policyAnswer = pc.Policy.SocketAnswer()
	}
	if lc.Backend != "" {
		rt.backend = pools[lc.Backend]
		if rt.backend == nil {
			return nil, fmt.Errorf("listener %q: backend %q is not defined", lc.Name, lc.Backend)
		}
	}
	return rt, nil
}

// Listen opens every listener and the admin listener. On error, those
// already open are closed. Run calls it when it has not been called.
func (g *Gateway) Listen(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.gen.Load() != nil {
		return nil
	}
	gen := g.newGeneration(g.cfg, nil)
	if _, err := g.buildTLS(gen, nil); err != nil {
		return err
	}
	var ls []*listener
	closeAll := func() {
		for _, l := range ls {
			l.close()
		}
		closeTerminators(g.log, gen.terminators())
	}
	for _, lc := range g.cfg.Listeners {
		rt, err := buildRoute(g.cfg, lc, gen)
		if err == nil {
			var ln *net.TCPListener
			ln, err = listenTCP(ctx, lc.Address, lc.ReusePort)
			if err == nil {
				ls = append(ls, g.newListener(lc, rt, ln))
				continue
			}
		}
		closeAll()
		return fmt.Errorf("listener %q: %w", lc.Name, err)
	}
	blocks, err := g.openUDP(g.cfg)
	if err != nil {
		closeAll()
		return err
	}
	if g.cfg.Admin != nil {
		a, err := g.listenAdmin(ctx, g.cfg.Admin)
		if err != nil {
			closeAll()
			for _, b := range blocks {
				b.conn.Close()
			}
			return err
		}
		g.admin = a
	}
	g.mu.Lock()
	g.udpBlocks = blocks
	g.mu.Unlock()
	if g.loopCount >= 0 {
		if ls, err := evloop.New(g.loopCount); err == nil {
			g.loops = ls
		} else {
			g.log.Debug().Err(err).Msg("connections relay with goroutines")
		}
	}
	g.lmu.Lock()
	g.listeners = ls
	g.lmu.Unlock()
	g.gen.Store(gen)
	return nil
}

// newListener wraps an open socket for lc.
func (g *Gateway) newListener(lc *config.Listener, rt *route, ln *net.TCPListener) *listener {
	l := &listener{gw: g, name: lc.Name, address: lc.Address, reusePort: lc.ReusePort, ln: ln,
		perIP: make(map[netip.Addr]int), metrics: g.metrics.forListener(lc.Name),
		log: g.log.With().Str("listener", lc.Name).Logger()}
	l.route.Store(rt)
	return l
}

// startListener runs l's accept loop (Run and Reload call it).
func (g *Gateway) startListener(l *listener) {
	ev := g.log.Info().Str("listener", l.name).Str("address", l.ln.Addr().String())
	if rt := l.route.Load(); rt != nil {
		lc := rt.cfg
		ev = ev.Str("policy", orNone(lc.Policy)).Str("backend", orNone(lc.Backend)).
			Str("protocol", orDefault(lc.Protocol, "binary")).Bool("tls", lc.TLS != nil)
		if len(lc.WebSockets) > 0 {
			paths := make([]string, len(lc.WebSockets))
			for i, ws := range lc.WebSockets {
				paths[i] = ws.Path
			}
			ev = ev.Strs("websocket", paths)
		}
		if rt.transparent() {
			ev = ev.Bool("transparent", true)
		}
	}
	ev.Msg("listening")
	g.serveWG.Add(1)
	go func() {
		defer g.serveWG.Done()
		l.serve()
	}()
}

// Addr returns the bound address of the named listener (useful with port 0),
// or nil.
func (g *Gateway) Addr(name string) net.Addr {
	g.lmu.Lock()
	defer g.lmu.Unlock()
	for _, l := range g.listeners {
		if l.name == name {
			return l.ln.Addr()
		}
	}
	return nil
}

// allListeners returns the current listeners and the removed ones whose
// connections still drain.
func (g *Gateway) allListeners() []*listener {
	g.lmu.Lock()
	defer g.lmu.Unlock()
	kept := g.retired[:0]
	for _, l := range g.retired {
		if l.active.Load() > 0 {
			kept = append(kept, l)
		}
	}
	clear(g.retired[len(kept):])
	g.retired = kept
	out := make([]*listener, 0, len(g.listeners)+len(g.retired))
	out = append(out, g.listeners...)
	return append(out, g.retired...)
}

// Run serves until ctx is canceled, then stops accepting, lets open
// connections finish for up to shutdown_timeout, closes what is left and
// returns nil. While it drains, /healthz answers 503.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.Listen(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.reloadMu.Lock()
	g.ctx = runCtx
	g.running = true
	g.startHealth(g.gen.Load())
	if g.admin != nil {
		g.admin.start()
	}
	g.lmu.Lock()
	ls := g.listeners
	g.lmu.Unlock()
	for _, l := range ls {
		g.startListener(l)
	}
	g.startUDP()
	g.reloadMu.Unlock()

	<-ctx.Done()
	g.draining.Store(true)
	g.reloadMu.Lock()
	g.stopped = true
	cfg := g.config()
	g.lmu.Lock()
	for _, l := range g.listeners {
		l.close()
	}
	g.lmu.Unlock()
	admin := g.admin
	g.reloadMu.Unlock()
	// UDP has no connections to drain: its sessions end now, each with its
	// summary line.
	g.stopUDP()
	g.serveWG.Wait()
	g.drainConns(cfg.ShutdownTimeout, cancel)
	if g.loops != nil {
		g.loops.Close()
	}
	gen := g.gen.Load()
	if gen.cancel != nil {
		gen.cancel()
	}
	closeTerminators(g.log, gen.terminators())
	if admin != nil {
		admin.stop()
	}
	return nil
}

// drainConns waits for open connections to end, up to timeout, then cancels
// the dials and handshakes in flight (stop), closes the rest and waits for
// their handlers.
func (g *Gateway) drainConns(timeout time.Duration, stop context.CancelFunc) {
	g.mu.Lock()
	g.drain = true
	g.idle = make(chan struct{})
	n := len(g.conns)
	if n == 0 {
		close(g.idle)
	}
	idle := g.idle
	g.mu.Unlock()
	if n > 0 {
		g.log.Info().Int("connections", n).Dur("timeout", timeout).Msg("draining")
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return
	case <-t.C:
	}
	g.mu.Lock()
	left := make([]*conn, 0, len(g.conns))
	for h := range g.conns {
		left = append(left, h)
	}
	g.mu.Unlock()
	g.log.Warn().Int("connections", len(left)).Msg("shutdown_timeout passed; closing connections")
	stop()
	for _, h := range left {
		h.shutdown(stream.ReasonShutdown)
	}
	<-idle
}

// newConn registers an accepted connection.
func (g *Gateway) newConn(l *listener, rt *route, c *net.TCPConn, client netip.AddrPort) *conn {
	now := time.Now()
	h := &conn{gw: g, l: l, rt: rt, c: c, cc: c, client: client, id: g.nextID.Add(1), start: now, sniffStart: now}
	g.mu.Lock()
	g.conns[h] = struct{}{}
	g.mu.Unlock()
	return h
}

// untrack removes a finished connection.
func (g *Gateway) untrack(h *conn) {
	g.mu.Lock()
	delete(g.conns, h)
	if g.drain && len(g.conns) == 0 {
		select {
		case <-g.idle:
		default:
			close(g.idle)
		}
	}
	g.mu.Unlock()
}

// policyServed counts a policy answer.
func (g *Gateway) policyServed(l *listener) { l.metrics.policy.Inc() }
