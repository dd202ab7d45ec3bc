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
)

// Gateway runs the listeners of one config. Create it with New, start it
// with Run.
type Gateway struct {
	cfg *Config
	log zerolog.Logger

	ctx       context.Context // canceled when Run returns
	listeners []*listener
	nextID    atomic.Uint64

	mu    sync.Mutex
	conns map[*conn]struct{}
	idle  chan struct{} // closed when conns becomes empty during drain
	drain bool

	policyAnswers atomic.Int64
	rejections    atomic.Int64
}

// New builds a gateway for cfg. It opens no socket: Run does.
func New(cfg *Config, log zerolog.Logger) (*Gateway, error) {
	if cfg == nil {
		return nil, errors.New("gateway: nil config")
	}
	return &Gateway{cfg: cfg, log: log, conns: make(map[*conn]struct{})}, nil
}

// buildRoute prepares what a listener needs per connection: the policy
// answer rendered once, and its backend.
func buildRoute(cfg *Config, lc *ListenerConfig) (*route, error) {
	rt := &route{cfg: lc}
	if lc.Policy != "" {
		pc := cfg.Policy(lc.Policy)
		if pc == nil || pc.Policy == nil {
			return nil, fmt.Errorf("listener %q: policy %q is not defined", lc.Name, lc.Policy)
		}
		rt.policyAnswer = pc.Policy.SocketAnswer()
	}
	if lc.Backend != "" {
		bc := cfg.Backend(lc.Backend)
		if bc == nil {
			return nil, fmt.Errorf("listener %q: backend %q is not defined", lc.Name, lc.Backend)
		}
		rt.backend = newBackend(bc)
	}
	return rt, nil
}

// Listen opens every listener. On error, those already open are closed.
// Run calls it when it has not been called.
func (g *Gateway) Listen(ctx context.Context) error {
	if g.listeners != nil {
		return nil
	}
	var ls []*listener
	for _, lc := range g.cfg.Listeners {
		rt, err := buildRoute(g.cfg, lc)
		if err == nil {
			var ln *net.TCPListener
			ln, err = listenTCP(ctx, lc.Address, lc.ReusePort)
			if err == nil {
				l := &listener{gw: g, name: lc.Name, ln: ln, perIP: make(map[netip.Addr]int),
					log: g.log.With().Str("listener", lc.Name).Logger()}
				l.route.Store(rt)
				ls = append(ls, l)
				continue
			}
		}
		for _, l := range ls {
			l.ln.Close()
		}
		return fmt.Errorf("listener %q: %w", lc.Name, err)
	}
	g.listeners = ls
	return nil
}

// Addr returns the bound address of the named listener (useful with port 0),
// or nil.
func (g *Gateway) Addr(name string) net.Addr {
	for _, l := range g.listeners {
		if l.name == name {
			return l.ln.Addr()
		}
	}
	return nil
}

// Run serves until ctx is canceled, then stops accepting, lets open
// connections finish for up to shutdown_timeout, closes what is left and
// returns nil.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.Listen(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.ctx = runCtx
	var wg sync.WaitGroup
	for _, l := range g.listeners {
		g.log.Info().Str("listener", l.name).Str("address", l.ln.Addr().String()).Msg("listening")
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.serve()
		}()
	}
	<-ctx.Done()
	for _, l := range g.listeners {
		l.ln.Close()
	}
	wg.Wait()
	g.drainConns(g.cfg.ShutdownTimeout)
	return nil
}

// drainConns waits for open connections to end, up to timeout, then closes
// the rest and waits for their handlers.
func (g *Gateway) drainConns(timeout time.Duration) {
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
	for _, h := range left {
		h.shutdown(reasonShutdown)
	}
	<-idle
}

// newConn registers an accepted connection.
func (g *Gateway) newConn(l *listener, rt *route, c *net.TCPConn, client netip.AddrPort) *conn {
	h := &conn{gw: g, l: l, rt: rt, c: c, client: client, id: g.nextID.Add(1), start: time.Now()}
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
func (g *Gateway) policyServed(*listener) { g.policyAnswers.Add(1) }

// rejected counts and logs (at a bounded rate) a connection refused by a limit.
func (g *Gateway) rejected(l *listener, client netip.AddrPort, reason string) {
	if g.rejections.Add(1)%1000 == 1 {
		l.log.Warn().Str("client", client.String()).Str("reason", reason).
			Int64("rejections_total", g.rejections.Load()).Msg("connection rejected")
	}
}
