package upstream

import (
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Passive health: a failed dial marks a server down for passiveDownMin,
// doubling with each further failure up to passiveDownMax. A down server is
// skipped while another is up; when all are down, all are tried anyway (the
// gateway never refuses a client only because of its own bookkeeping).
const (
	passiveDownMin = 10 * time.Second
	passiveDownMax = time.Minute
)

// Server is one address of a backend pool with its health. It survives a
// reload when its backend keeps the address (NewPools), so health and the
// count of open connections carry over. Its methods are safe for
// concurrent use.
type Server struct {
	addr      string
	lit       []netip.AddrPort // addr when it is an IP literal: dialed as is
	host      string           // else its host name and port, resolved in the background (resolve.go)
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

// NewServer is one address of a backend: "ip:port", or "host:port" (a host
// name, resolved by the dialer and in the background by ResolveServers).
func NewServer(addr string) *Server {
	s := &Server{addr: addr}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		s.lit = []netip.AddrPort{netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}
	} else if host, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := strconv.ParseUint(port, 10, 16); err == nil && host != "" {
			s.host, s.port = host, uint16(p)
		}
	}
	return s
}

// Addr is the server's address as configured.
func (s *Server) Addr() string { return s.addr }

// Host is the server's host name, or "" when its address is an IP literal
// (or its port a service name, which only a blocking dial resolves).
func (s *Server) Host() string { return s.host }

// Resolvable reports whether Addrs can name the server's addresses without
// a blocking lookup: an IP literal, or a host name with a numeric port
// (resolved in the background). False for a service-name port.
func (s *Server) Resolvable() bool { return s.lit != nil || s.host != "" }

// Addrs returns the addresses a non-blocking dial tries for s, in order:
// the literal, or the last addresses ResolveServers found (nil before the
// first answer).
func (s *Server) Addrs() []netip.AddrPort {
	if s.lit != nil {
		return s.lit
	}
	if p := s.resolved.Load(); p != nil {
		return *p
	}
	return nil
}

// SetResolved replaces the addresses of a host-name server until the next
// lookup (ResolveServers calls it; a caller resolving on its own may too).
func (s *Server) SetResolved(addrs []netip.AddrPort) {
	s.resolved.Store(&addrs)
}

// Up reports whether the server is considered healthy now.
func (s *Server) Up() bool {
	d := s.downUntil.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

// Failed records a failed dial (passive, active false) or health check
// (active): a failed dial marks s down for a while, doubling with each
// further failure; a failed check marks it down until a check passes.
func (s *Server) Failed(err error, active bool) {
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

// Succeeded records a successful dial or check: the server is up again.
func (s *Server) Succeeded() {
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

// Acquire counts one more connection open to s (Dialing.Connected calls
// it); Release ends it.
func (s *Server) Acquire() { s.active.Add(1) }

// Release ends one connection counted by Acquire (or by a successful Dial).
// A nil s is a no-op.
func (s *Server) Release() {
	if s != nil {
		s.active.Add(-1)
	}
}

// Active is the number of connections open to s.
func (s *Server) Active() int64 { return s.active.Load() }

// SetTLSStatus records the certificate status of the last TLS handshake
// with s (tlsterm.Status), for State.
func (s *Server) SetTLSStatus(status string) { s.lastTLS.Store(&status) }

// ServerState is a server's health as /status reports it.
type ServerState struct {
	Address       string    `json:"address"`
	Up            bool      `json:"up"`
	Active        int64     `json:"active"`
	DownUntil     time.Time `json:"down_until,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastTLSStatus string    `json:"last_tls_status,omitempty"`
}

// State returns s's health now.
func (s *Server) State() ServerState {
	st := ServerState{Address: s.addr, Up: s.Up(), Active: s.active.Load()}
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
