package gateway

import (
	"context"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/upstream"
	"github.com/flashgate/flashgate/tlsterm"
)

// This file links the gateway to gateway/upstream while the call sites
// still use the names they had when pools lived in this package: a
// backend and a server are thin gateway-side types over the upstream ones,
// and the unexported methods below forward to upstream's. New code calls
// the upstream API (through the embedded *upstream.Backend and
// *upstream.Server) directly.

// ErrNoBackend is returned when every address of a backend refused or timed out.
var ErrNoBackend = upstream.ErrNoBackend

const (
	balanceLeastConn = upstream.BalanceLeastConn
	resolveEvery     = upstream.ResolveEvery
	resolveMinGap    = upstream.ResolveMinGap
)

type (
	backendState = upstream.BackendState
	serverState  = upstream.ServerState
)

// backend is an upstream.Backend with the config block it was built from
// and its servers as gateway-side values.
type backend struct {
	*upstream.Backend
	cfg        *config.Backend
	servers    []*server          // b.Backend.Servers(), in the same order
	dialErrors prometheus.Counter // the counter b.Backend counts failed dials in; nil: none
	tls        *tlsterm.Dialer    // TLS origination (tls.go); nil: plain TCP
}

// server is an upstream.Server with the fields the call sites read.
type server struct {
	*upstream.Server
	addr     string         // Server.Addr()
	host     string         // Server.Host()
	active   serverActive   // Server.Active(), Acquire
	lastTLS  serverTLS      // Server.SetTLSStatus
	resolved serverResolved // Server.SetResolved
}

func wrapServer(s *upstream.Server) *server {
	return &server{Server: s, addr: s.Addr(), host: s.Host(),
		active: serverActive{s}, lastTLS: serverTLS{s}, resolved: serverResolved{s}}
}

// newServer is one address of a backend.
func newServer(addr string) *server { return wrapServer(upstream.NewServer(addr)) }

// upstreamConfig is what upstream needs of bc.
func upstreamConfig(bc *config.Backend) upstream.Config {
	c := upstream.Config{Name: bc.Name, Addresses: bc.Address, Builtin: bc.Builtin,
		ConnectTimeout: bc.ConnectTimeout, Balance: bc.Balance, TLS: bc.TLS != nil}
	if hc := bc.HealthCheck; hc != nil {
		c.HealthCheck = &upstream.HealthCheck{Interval: hc.Interval, Timeout: hc.Timeout}
	}
	return c
}

func wrapBackend(bc *config.Backend, ub *upstream.Backend, dialErrors prometheus.Counter) *backend {
	b := &backend{Backend: ub, cfg: bc, dialErrors: dialErrors}
	for _, s := range ub.Servers() {
		b.servers = append(b.servers, wrapServer(s))
	}
	return b
}

// newBackend is a backend of new servers for bc, counting no metric.
func newBackend(bc *config.Backend) *backend {
	return wrapBackend(bc, upstream.New(upstreamConfig(bc)), nil)
}

// newPools builds the backends of cfg (upstream.NewPools).
func newPools(cfg *config.Config, prev map[string]*backend, m *metrics, r *net.Resolver) map[string]*backend {
	cfgs := make([]upstream.Config, 0, len(cfg.Backends))
	for _, bc := range cfg.Backends {
		cfgs = append(cfgs, upstreamConfig(bc))
	}
	prevUp := make(map[string]*upstream.Backend, len(prev))
	for name, b := range prev {
		prevUp[name] = b.Backend
	}
	hooks := upstream.Hooks{DialErrors: func(name string) upstream.Counter { return m.dialErrors.WithLabelValues(name) }}
	ups := upstream.NewPools(cfgs, prevUp, hooks, r)
	pools := make(map[string]*backend, len(cfg.Backends))
	for _, bc := range cfg.Backends {
		pools[bc.Name] = wrapBackend(bc, ups[bc.Name], m.dialErrors.WithLabelValues(bc.Name))
	}
	return pools
}

// wrap returns b's gateway-side server for s.
func (b *backend) wrap(s *upstream.Server) *server {
	for _, w := range b.servers {
		if w.Server == s {
			return w
		}
	}
	return wrapServer(s)
}

// echo reports whether the backend is the builtin echo.
func (b *backend) echo() bool { return b.cfg.Builtin == "echo" }

// loopDialable: upstream.Backend.Resolvable.
func (b *backend) loopDialable() bool {
	for _, s := range b.servers {
		if !s.Resolvable() {
			return false
		}
	}
	return len(b.servers) > 0
}

// loopReady: upstream.Backend.Resolved.
func (b *backend) loopReady() bool { return b.Resolved() }

func (b *backend) checkHealth(ctx context.Context, log zerolog.Logger) { b.CheckHealth(ctx, log) }

func (b *backend) resolveServers(ctx context.Context, log zerolog.Logger) {
	b.ResolveServers(ctx, log)
}

func (b *backend) state() backendState { return b.State() }

func (s *server) addrs() []netip.AddrPort { return s.Addrs() }
func (s *server) up() bool                { return s.Up() }

func (s *server) state() serverState { return s.State() }

// release ends one connection counted by a successful dial. A nil s is a
// no-op.
func (s *server) release() {
	if s != nil {
		s.Release()
	}
}

// serverActive reads and counts a server's open connections.
type serverActive struct{ s *upstream.Server }

func (a serverActive) Load() int64 { return a.s.Active() }

// Add counts n more (n > 0) or fewer open connections.
func (a serverActive) Add(n int64) {
	for ; n > 0; n-- {
		a.s.Acquire()
	}
	for ; n < 0; n++ {
		a.s.Release()
	}
}

// serverTLS records a server's last TLS certificate status.
type serverTLS struct{ s *upstream.Server }

func (t serverTLS) Store(status *string) { t.s.SetTLSStatus(*status) }

// serverResolved replaces a host-name server's addresses.
type serverResolved struct{ s *upstream.Server }

func (r serverResolved) Store(addrs *[]netip.AddrPort) { r.s.SetResolved(*addrs) }
