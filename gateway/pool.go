package gateway

import (
	"context"
	"math"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Passive health: a failed dial marks a server down for passiveDownMin,
// doubling with each further failure up to passiveDownMax. A down server is
// skipped while another is up; when all are down, all are tried anyway (the
// gateway never refuses a client only because of its own bookkeeping).
const (
	passiveDownMin = 10 * time.Second
	passiveDownMax = time.Minute
)

// Balance modes of a backend pool.
const (
	balanceRoundRobin = "round_robin"
	balanceLeastConn  = "least_conn"
)

// server is one address of a backend pool with its health. It survives a
// reload when its backend keeps the address, so health and the count of
// open connections carry over.
type server struct {
	addr      string
	lit       []netip.AddrPort // addr when it is an IP literal: the event loops dial it as is
	host      string           // else its host name and port, resolved for the loops (resolve.go)
	port      uint16
	resolved  atomic.Pointer[[]netip.AddrPort]
	active    atomic.Int64 // relayed connections open to it
	downUntil atomic.Int64 // unixnano; 0 = up, math.MaxInt64 = until a check passes

	mu       sync.Mutex
	penalty  time.Duration // current passive down time
	lastErr  string
	lastSeen time.Time // last successful dial or check
	lastTLS  atomic.Pointer[string]
}

// up reports whether the server is considered healthy now.
func (s *server) up() bool {
	d := s.downUntil.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

// failed records a failed dial (passive) or check (active).
func (s *server) failed(err error, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err.Error()
	if active {
		s.downUntil.Store(math.MaxInt64)
		return
	}
	if s.penalty == 0 {
		s.penalty = passiveDownMin
	} else {
		s.penalty = min(2*s.penalty, passiveDownMax)
	}
	until := time.Now().Add(s.penalty).UnixNano()
	if until > s.downUntil.Load() { // never shortens a down set by a failed check
		s.downUntil.Store(until)
	}
}

// succeeded records a successful dial or check: the server is up again.
func (s *server) succeeded() {
	if s.downUntil.Load() == 0 {
		s.mu.Lock()
		s.lastSeen = time.Now()
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.penalty = 0
	s.lastErr = ""
	s.lastSeen = time.Now()
	s.downUntil.Store(0)
	s.mu.Unlock()
}

// release ends one connection counted by a successful dial.
func (s *server) release() {
	if s != nil {
		s.active.Add(-1)
	}
}

// serverState is a server's health as /status reports it.
type serverState struct {
	Address       string    `json:"address"`
	Up            bool      `json:"up"`
	Active        int64     `json:"active"`
	DownUntil     time.Time `json:"down_until,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastTLSStatus string    `json:"last_tls_status,omitempty"`
}

func (s *server) state() serverState {
	st := serverState{Address: s.addr, Up: s.up(), Active: s.active.Load()}
	if d := s.downUntil.Load(); d != 0 && d != math.MaxInt64 && !st.Up {
		st.DownUntil = time.Unix(0, d).UTC()
	}
	s.mu.Lock()
	if !st.Up {
		st.LastError = s.lastErr
	}
	s.mu.Unlock()
	if p := s.lastTLS.Load(); p != nil {
		st.LastTLSStatus = *p
	}
	return st
}

// candidates returns the servers in the order a dial should try them:
// healthy ones first, in balance order, then the down ones (tried only when
// every healthy one failed). Round robin rotates over the healthy servers
// only, so a down server's turns are spread evenly over the others.
func (b *backend) candidates() []*server {
	n := len(b.servers)
	out := make([]*server, 0, n)
	if n == 0 {
		return out
	}
	var down []*server
	for _, s := range b.servers {
		if s.up() {
			out = append(out, s)
		} else {
			down = append(down, s)
		}
	}
	if len(out) > 1 {
		start := int(b.next.Add(1)-1) % len(out)
		rotated := make([]*server, 0, n)
		rotated = append(append(rotated, out[start:]...), out[:start]...)
		out = rotated
		if b.cfg.Balance == balanceLeastConn {
			// Stable: equal loads keep the rotation, so ties are spread.
			sort.SliceStable(out, func(i, j int) bool { return out[i].active.Load() < out[j].active.Load() })
		}
	}
	return append(out, down...)
}

// checkHealth runs the active TCP health check of b until ctx ends: every
// interval each server is dialed with the check's timeout and closed.
func (b *backend) checkHealth(ctx context.Context, log zerolog.Logger) {
	hc := b.cfg.HealthCheck
	interval, timeout := hc.Interval, hc.Timeout
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	d := net.Dialer{Timeout: timeout}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, s := range b.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wasUp := s.up()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				c, err := d.DialContext(cctx, "tcp", s.addr)
				cancel()
				if ctx.Err() != nil {
					if c != nil {
						c.Close()
					}
					return
				}
				if err != nil {
					s.failed(err, true)
					if wasUp {
						log.Warn().Str("backend", b.cfg.Name).Str("server", s.addr).Err(err).Msg("health check failed; server down")
					}
					return
				}
				c.Close()
				s.succeeded()
				if !wasUp {
					log.Info().Str("backend", b.cfg.Name).Str("server", s.addr).Msg("health check passed; server up")
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newPools builds the backends of cfg. Servers whose backend name and
// address existed in prev keep their state (health, open connections).
func newPools(cfg *Config, prev map[string]*backend, m *metrics, r *net.Resolver) map[string]*backend {
	pools := make(map[string]*backend, len(cfg.Backends))
	for _, bc := range cfg.Backends {
		var old *backend
		if prev != nil {
			old = prev[bc.Name]
		}
		b := newBackend(bc)
		b.dialErrors = m.dialErrors.WithLabelValues(bc.Name)
		b.resolver, b.dialer.Resolver = r, r
		b.servers = make([]*server, len(bc.Address))
		for i, addr := range bc.Address {
			var s *server
			if old != nil {
				for _, os := range old.servers {
					if os.addr == addr {
						s = os
						break
					}
				}
			}
			if s == nil {
				s = newServer(addr)
			}
			b.servers[i] = s
		}
		pools[bc.Name] = b
	}
	return pools
}

// backendState is a backend as /status reports it.
type backendState struct {
	Name        string        `json:"name"`
	Builtin     string        `json:"builtin,omitempty"`
	Balance     string        `json:"balance,omitempty"`
	HealthCheck string        `json:"health_check,omitempty"`
	TLS         bool          `json:"tls"`
	Servers     []serverState `json:"servers"`
}

func (b *backend) state() backendState {
	st := backendState{Name: b.cfg.Name, Builtin: b.cfg.Builtin, TLS: b.cfg.TLS != nil, Servers: []serverState{}}
	if b.cfg.Builtin == "" {
		st.Balance = b.balance()
	}
	if hc := b.cfg.HealthCheck; hc != nil {
		st.HealthCheck = "tcp every " + hc.Interval.String()
	}
	for _, s := range b.servers {
		st.Servers = append(st.Servers, s.state())
	}
	return st
}

func (b *backend) balance() string {
	if b.cfg.Balance == "" {
		return balanceRoundRobin
	}
	return b.cfg.Balance
}
