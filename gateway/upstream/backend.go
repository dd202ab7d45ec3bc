package upstream

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync/atomic"
	"time"
)

// ErrNoBackend is returned when every address of a backend refused or timed out.
var ErrNoBackend = errors.New("no backend reachable")

// Balance modes of a backend pool.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
)

// DefaultConnectTimeout bounds a dial when Config.ConnectTimeout is 0.
const DefaultConnectTimeout = 5 * time.Second

// Config is what a backend needs of its configuration block.
type Config struct {
	Name           string
	Addresses      []string      // host:port, tried in balance order
	Builtin        string        // "echo": answered in process, never dialed; else ""
	ConnectTimeout time.Duration // per server; 0: DefaultConnectTimeout
	Balance        string        // BalanceRoundRobin (default, "") or BalanceLeastConn
	HealthCheck    *HealthCheck  // nil: passive health only
	TLS            bool          // the caller originates TLS to the backend (reported by State)
}

// HealthCheck is an active TCP health check: every Interval each server is
// dialed with Timeout and closed.
type HealthCheck struct {
	Interval time.Duration // 0: 5s
	Timeout  time.Duration // 0: 1s
}

// Counter is a metric that counts up (a prometheus.Counter is one).
type Counter interface{ Inc() }

// Hooks connect backends to the caller's metrics. Nil fields are skipped.
type Hooks struct {
	// DialErrors returns the counter of failed dials to the named backend
	// (each failed-over attempt counts). NewPools calls it once per backend.
	DialErrors func(backend string) Counter
}

// Backend dials one configured backend: a pool of servers, balanced and
// failed over. Its methods are safe for concurrent use.
type Backend struct {
	cfg        Config
	dialer     net.Dialer
	servers    []*Server
	next       atomic.Uint64 // round-robin position
	dialErrors Counter       // nil: not counted
	resolver   *net.Resolver // host names (resolve.go, and the dialer's); nil: net.DefaultResolver
	refresh    chan struct{} // ResolveSoon: look host names up again now
}

// New returns a backend of new servers for cfg, resolving host names with
// net.DefaultResolver and counting no metric. NewPools builds the backends
// of a whole config.
func New(cfg Config) *Backend {
	b := newBackend(cfg, nil, nil)
	for _, a := range cfg.Addresses {
		b.servers = append(b.servers, NewServer(a))
	}
	return b
}

func newBackend(cfg Config, dialErrors Counter, r *net.Resolver) *Backend {
	cfg.Addresses = append([]string(nil), cfg.Addresses...)
	if cfg.HealthCheck != nil {
		hc := *cfg.HealthCheck
		cfg.HealthCheck = &hc
	}
	// No TCP keepalive to backends (four setsockopts per dial): they sit on
	// a network the operator runs, and the relay's idle timeout ends dead
	// connections.
	b := &Backend{cfg: cfg, dialErrors: dialErrors, resolver: r, refresh: make(chan struct{}, 1)}
	b.dialer = net.Dialer{Timeout: b.Timeout(), KeepAlive: -1, Resolver: r}
	return b
}

// NewPools builds the backends of cfgs, by name. Servers whose backend name
// and address existed in prev keep their state (health, open connections).
// r resolves host names; nil is net.DefaultResolver.
func NewPools(cfgs []Config, prev map[string]*Backend, hooks Hooks, r *net.Resolver) map[string]*Backend {
	pools := make(map[string]*Backend, len(cfgs))
	for _, c := range cfgs {
		var dialErrors Counter
		if hooks.DialErrors != nil {
			dialErrors = hooks.DialErrors(c.Name)
		}
		b := newBackend(c, dialErrors, r)
		old := prev[c.Name]
		b.servers = make([]*Server, len(c.Addresses))
		for i, addr := range c.Addresses {
			var s *Server
			if old != nil {
				for _, os := range old.servers {
					if os.addr == addr {
						s = os
						break
					}
				}
			}
			if s == nil {
				s = NewServer(addr)
			}
			b.servers[i] = s
		}
		pools[c.Name] = b
	}
	return pools
}

// Name is the backend's name.
func (b *Backend) Name() string { return b.cfg.Name }

// Echo reports whether the backend is the builtin echo.
func (b *Backend) Echo() bool { return b.cfg.Builtin == "echo" }

// Servers returns the backend's servers in configured order. The slice is
// the backend's own: do not modify it.
func (b *Backend) Servers() []*Server { return b.servers }

// Timeout is the connect timeout of one server.
func (b *Backend) Timeout() time.Duration {
	if b.cfg.ConnectTimeout > 0 {
		return b.cfg.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// Balance is the balance mode, BalanceRoundRobin when none is configured.
func (b *Backend) Balance() string {
	if b.cfg.Balance == "" {
		return BalanceRoundRobin
	}
	return b.cfg.Balance
}

// Resolvable reports whether a non-blocking dial can reach every server
// through Server.Addrs: IP literals, or host names with numeric ports.
func (b *Backend) Resolvable() bool {
	for _, s := range b.servers {
		if !s.Resolvable() {
			return false
		}
	}
	return len(b.servers) > 0
}

// Resolved reports whether every server has an address to dial now; a host
// name not resolved yet is dialed only by the blocking Dial, which resolves
// as it dials.
func (b *Backend) Resolved() bool {
	for _, s := range b.servers {
		if len(s.Addrs()) == 0 {
			return false
		}
	}
	return true
}

// Candidates returns the servers in the order a dial should try them:
// healthy ones first, in balance order, then the down ones (tried only when
// every healthy one failed). Round robin rotates over the healthy servers
// only, so a down server's turns are spread evenly over the others.
func (b *Backend) Candidates() []*Server {
	n := len(b.servers)
	out := make([]*Server, 0, n)
	if n == 0 {
		return out
	}
	var down []*Server
	for _, s := range b.servers {
		if s.Up() {
			out = append(out, s)
		} else {
			down = append(down, s)
		}
	}
	if len(out) > 1 {
		start := int((b.next.Add(1) - 1) % uint64(len(out))) // modulo first: no overflow on 32-bit int
		rotated := make([]*Server, 0, n)
		rotated = append(append(rotated, out[start:]...), out[:start]...)
		out = rotated
		if b.cfg.Balance == BalanceLeastConn {
			// Stable: equal loads keep the rotation, so ties are spread.
			sort.SliceStable(out, func(i, j int) bool { return out[i].active.Load() < out[j].active.Load() })
		}
	}
	return append(out, down...)
}

// Dial connects to a server of the pool: healthy servers first, in balance
// order, failing over to the next on a dial error; down servers last. Host
// names are resolved as they are dialed. It returns the connection and the
// server it reached, counted as active: the caller calls srv.Release when
// the connection ends. With every server failing, the error wraps
// ErrNoBackend and each attempt's error.
func (b *Backend) Dial(ctx context.Context) (c net.Conn, srv *Server, err error) {
	d := b.StartDial()
	for {
		s, ok := d.Next()
		if !ok {
			return nil, nil, d.Err()
		}
		c, err := b.dialOne(ctx, s)
		switch {
		case err == nil:
			return c, d.Connected(), nil
		case ctx.Err() != nil:
			d.Stop(err) // the caller gave up: not the server's fault
		default:
			d.Failed(err)
		}
	}
}

// dialOne dials one server within the connect timeout (the dialer's).
// Not Dialer.DialTCP with a zero local address: that binds ":0" before
// connecting, which takes ports from the ephemeral range without sharing
// them with TIME_WAIT sockets, and a busy gateway runs out of ports
// ("bind: address already in use") where connect() alone would not.
func (b *Backend) dialOne(ctx context.Context, s *Server) (net.Conn, error) {
	return b.dialer.DialContext(ctx, "tcp", s.addr)
}

// BackendState is a backend as /status reports it.
type BackendState struct {
	Name        string        `json:"name"`
	Builtin     string        `json:"builtin,omitempty"`
	Balance     string        `json:"balance,omitempty"`
	HealthCheck string        `json:"health_check,omitempty"`
	TLS         bool          `json:"tls"`
	Servers     []ServerState `json:"servers"`
}

// State returns the backend and the health of its servers now.
func (b *Backend) State() BackendState {
	st := BackendState{Name: b.cfg.Name, Builtin: b.cfg.Builtin, TLS: b.cfg.TLS, Servers: []ServerState{}}
	if b.cfg.Builtin == "" {
		st.Balance = b.Balance()
	}
	if hc := b.cfg.HealthCheck; hc != nil {
		st.HealthCheck = "tcp every " + hc.Interval.String()
	}
	for _, s := range b.servers {
		st.Servers = append(st.Servers, s.State())
	}
	return st
}
