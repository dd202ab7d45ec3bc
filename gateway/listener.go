package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// route is what a listener does with a connection: its config, the
// pre-rendered policy answer and its backend. Connections take the route that
// was current when they were accepted and keep it, so a reload never changes
// a connection in flight.
type route struct {
	cfg          *ListenerConfig
	policyAnswer []byte // policy XML + NUL, or nil for a transparent listener
	backend      *backend
}

// listener accepts connections on one address and hands each to a
// connection handler.
type listener struct {
	gw    *Gateway
	name  string
	ln    *net.TCPListener
	route atomic.Pointer[route]
	log   zerolog.Logger

	active atomic.Int64
	mu     sync.Mutex
	perIP  map[netip.Addr]int
}

// listenTCP opens a TCP listener; "[::]:port" is dual stack (Go clears
// IPV6_V6ONLY for wildcard addresses). reusePort sets SO_REUSEPORT so a new
// process can bind beside the old one.
func listenTCP(ctx context.Context, address string, reusePort bool) (*net.TCPListener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", address, err)
	}
	return ln.(*net.TCPListener), nil
}

// serve runs the accept loop until the listener is closed. Temporary errors
// (EMFILE, ENFILE, ECONNABORTED, ENOBUFS) back off from 5 ms up to 1 s, so a
// descriptor shortage never spins a core.
func (l *listener) serve() {
	var backoff time.Duration
	var lastLog time.Time
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else {
				backoff = min(2*backoff, time.Second)
			}
			if time.Since(lastLog) > 5*time.Second {
				lastLog = time.Now()
				l.log.Warn().Err(err).Dur("backoff", backoff).Msg("accept failed; backing off")
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		rt := l.route.Load()
		client, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		if reason := l.admit(rt.cfg, client.Addr()); reason != "" {
			l.gw.rejected(l, client, reason)
			_ = c.SetLinger(0)
			c.Close()
			continue
		}
		h := l.gw.newConn(l, rt, c, client)
		go h.serve()
	}
}

// admit applies max_connections and max_connections_per_ip. It returns the
// rejection reason, or "" after counting the connection in.
func (l *listener) admit(cfg *ListenerConfig, ip netip.Addr) string {
	n := l.active.Add(1)
	if cfg.MaxConnections > 0 && n > int64(cfg.MaxConnections) {
		l.active.Add(-1)
		return "max_connections"
	}
	if cfg.MaxConnectionsPerIP > 0 {
		ip = ip.Unmap()
		l.mu.Lock()
		if l.perIP[ip] >= cfg.MaxConnectionsPerIP {
			l.mu.Unlock()
			l.active.Add(-1)
			return "max_connections_per_ip"
		}
		l.perIP[ip]++
		l.mu.Unlock()
	}
	return ""
}

// release undoes admit when a connection ends.
func (l *listener) release(cfg *ListenerConfig, ip netip.Addr) {
	l.active.Add(-1)
	if cfg.MaxConnectionsPerIP > 0 {
		ip = ip.Unmap()
		l.mu.Lock()
		if l.perIP[ip] <= 1 {
			delete(l.perIP, ip)
		} else {
			l.perIP[ip]--
		}
		l.mu.Unlock()
	}
}
