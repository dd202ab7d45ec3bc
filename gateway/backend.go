package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashgate/flashgate/tlsterm"
)

// ErrNoBackend is returned when every address of a backend refused or timed out.
var ErrNoBackend = errors.New("no backend reachable")

// backend dials one configured backend: a pool of servers, balanced and
// failed over (pool.go).
type backend struct {
	cfg        *BackendConfig
	dialer     net.Dialer
	servers    []*server
	next       atomic.Uint64 // round-robin position
	dialErrors prometheus.Counter
	tls        *tlsterm.Dialer // nil: plain TCP to the backend
	resolver   *net.Resolver   // host names (resolve.go, and the dialer's); nil: net.DefaultResolver
	refresh    chan struct{}   // resolveSoon: look host names up again now
}

func newBackend(cfg *BackendConfig) *backend {
	// No TCP keepalive to backends (four setsockopts per dial): they sit on
	// a network the operator runs, and idle_timeout ends dead relays.
	b := &backend{cfg: cfg, refresh: make(chan struct{}, 1)}
	b.dialer = net.Dialer{Timeout: b.timeout(), KeepAlive: -1}
	for _, a := range cfg.Address {
		b.servers = append(b.servers, newServer(a))
	}
	return b
}

// echo reports whether the backend is the builtin echo.
func (b *backend) echo() bool { return b.cfg.Builtin == "echo" }

// dialServer connects to a server of the pool: healthy servers first, in
// balance order (round robin or least connections), failing over to the
// next on a dial error; down servers last. It returns the connection and the
// server it reached, counted as active: the caller calls srv.release() when
// the connection ends.
func (b *backend) dialServer(ctx context.Context) (net.Conn, *server, error) {
	var errs []error
	for _, s := range b.candidates() {
		c, err := b.dialOne(ctx, s)
		if err == nil {
			s.active.Add(1)
			s.succeeded()
			return c, s, nil
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("dial backend %s: %w", s.addr, err))
			break
		}
		s.failed(err, false)
		if b.dialErrors != nil {
			b.dialErrors.Inc()
		}
		errs = append(errs, fmt.Errorf("dial backend %s: %w", s.addr, err))
	}
	return nil, nil, fmt.Errorf("backend %q: %w: %w", b.cfg.Name, ErrNoBackend, errors.Join(errs...))
}

// newServer is one address of a backend.
func newServer(addr string) *server {
	s := &server{addr: addr}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		s.lit = []netip.AddrPort{netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}
	} else if host, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := strconv.ParseUint(port, 10, 16); err == nil && host != "" {
			s.host, s.port = host, uint16(p)
		}
	}
	return s
}

// loopDialable reports whether the event loops can dial every server: an
// IP literal, or a host name with a numeric port (resolve.go keeps its
// addresses).
func (b *backend) loopDialable() bool {
	for _, s := range b.servers {
		if s.lit == nil && s.host == "" {
			return false
		}
	}
	return len(b.servers) > 0
}

// loopReady reports whether every server has an address to dial now; a
// host name not resolved yet sends the connection to the goroutine path,
// which resolves as it dials.
func (b *backend) loopReady() bool {
	for _, s := range b.servers {
		if len(s.addrs()) == 0 {
			return false
		}
	}
	return true
}

// dialOne dials one server within connect_timeout (the dialer's Timeout).
// Not Dialer.DialTCP with a zero local address: that binds ":0" before
// connecting, which takes ports from the ephemeral range without sharing
// them with TIME_WAIT sockets, and a busy gateway runs out of ports
// ("bind: address already in use") where connect() alone would not.
func (b *backend) dialOne(ctx context.Context, s *server) (net.Conn, error) {
	return b.dialer.DialContext(ctx, "tcp", s.addr)
}

func (b *backend) timeout() time.Duration {
	if b.cfg.ConnectTimeout > 0 {
		return b.cfg.ConnectTimeout
	}
	return 5 * time.Second
}

// dialBackend dials b for h (dialServer) and, when the backend wants one,
// sends the PROXY header before any client byte. The caller releases the
// server when the connection ends.
func (h *conn) dialBackend(ctx context.Context, b *backend) (net.Conn, *server, error) {
	bc, srv, err := b.dialServer(ctx)
	if err != nil {
		return nil, nil, err
	}
	if v := b.cfg.ProxyProtocol; v != "" {
		if err := h.writeProxyHeader(bc, v); err != nil {
			bc.Close()
			srv.release()
			return nil, nil, fmt.Errorf("backend %q: %s: PROXY header: %w", b.cfg.Name, srv.addr, err)
		}
	}
	if b.tls != nil {
		tc, status, err := h.originateTLS(ctx, b, srv, bc)
		h.backendTLS = string(status)
		if err != nil {
			srv.release()
			return nil, nil, err
		}
		return tc, srv, nil
	}
	return bc, srv, nil
}
