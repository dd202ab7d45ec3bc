package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/rs/zerolog"
)

// route is what a listener does with a connection: its config, the
// pre-rendered policy answer and its backend. Connections take the route that
// was current when they were accepted and keep it, so a reload never changes
// a connection in flight.
type route struct {
	cfg          *config.Listener
	conf         *config.Config // the whole config this route was built from
	policyAnswer []byte         // policy XML + NUL, or nil for a transparent listener
	backend      *backend
	tls          *listenerTLS // nil: TLS is passed through to the backend
}

// transparent reports whether connections need no sniffing: a binary
// listener with a backend and no policy, no TLS termination and no
// WebSocket paths relays every byte as it comes, whatever it is.
func (rt *route) transparent() bool {
	return rt.policyAnswer == nil && rt.tls == nil && rt.backend != nil &&
		rt.cfg.Protocol != "xml" && len(rt.cfg.WebSockets) == 0
}

// evented reports whether the route's connections are handled by the
// event loops (evloop_linux.go): its backend, if any, is plain TCP to IP
// literals or host names with numeric ports. A transparent listener's
// connections are relayed there from the first byte; a multiplexed
// listener's are sniffed there too, answered (policy) or relayed (binary,
// XMLSocket), and handed to a goroutine only for TLS termination and HTTP.
// PROXY headers are read and written there.
func (rt *route) evented() bool {
	b := rt.backend
	if b == nil {
		return rt.policyAnswer != nil // a policy server
	}
	return !b.echo() && b.tls == nil && b.loopDialable()
}

// listener accepts connections on one address and hands each to a
// connection handler.
type listener struct {
	gw        *Gateway
	name      string
	address   string // as configured: a reload keeps the socket when name and address are unchanged
	reusePort bool
	ln        *net.TCPListener
	route     atomic.Pointer[route]
	rawFile   *os.File // a duplicate of ln for accept4 (evented routes), made on first use; guarded by mu
	lnClosed  bool     // guarded by mu
	noRaw     bool     // the duplicate could not be made: accept through ln only
	log       zerolog.Logger
	metrics   *listenerMetrics

	active atomic.Int64
	mu     sync.Mutex
	perIP  map[netip.Addr]int

	rejectLogged     atomic.Int64 // unixnano of the last rejection logged
	rejectSuppressed atomic.Int64 // rejections not logged since
}

// Client keepalive: the first probe after keepAliveIdle of silence, then one
// every keepAliveInterval; keepAliveCount unanswered probes drop the
// connection. listen_linux.go sets it once on the listening socket,
// listen_other.go on each accepted connection.
const (
	keepAliveIdle     = 30 * time.Second
	keepAliveInterval = 15 * time.Second
	keepAliveCount    = 4
)

// listenTCP opens a TCP listener; "[::]:port" is dual stack (Go clears
// IPV6_V6ONLY for wildcard addresses). reusePort sets SO_REUSEPORT so a new
// process can bind beside the old one; where the system has no
// SO_REUSEPORT (Windows) it is an error.
func listenTCP(ctx context.Context, address string, reusePort bool) (*net.TCPListener, error) {
	lc, err := listenConfig(reusePort)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", address, err)
	}
	ln, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return nil, err // "listen tcp ADDRESS: …" already
	}
	return ln.(*net.TCPListener), nil
}

// serve runs the accept loop until the listener is closed. Temporary errors
// (EMFILE, ENFILE, ECONNABORTED, ENOBUFS) back off from 5 ms up to 1 s, so a
// descriptor shortage never spins a core.
func (l *listener) serve() {
	var backoff acceptBackoff
	for {
		if rt := l.route.Load(); l.gw.loops != nil && !l.noRaw && rt.evented() {
			if !l.serveEvented(rt) {
				return
			}
			continue
		}
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff.wait(l.log, err)
			continue
		}
		backoff.reset()
		rt := l.route.Load()
		var client netip.AddrPort
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ap := ta.AddrPort() // IPv4 clients of a [::] listener come v4-mapped
			client = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		h := l.accepted(rt, c, client, func() { resetCloseConn(c) })
		if h != nil {
			go h.serve()
		}
	}
}

// acceptBackoff paces an accept loop after temporary errors (EMFILE,
// ENFILE, ECONNABORTED, ENOBUFS): from 5 ms doubling up to 1 s, logged at
// most every 5 s, so a descriptor shortage never spins a core.
type acceptBackoff struct {
	d       time.Duration
	lastLog time.Time
}

func (b *acceptBackoff) wait(log zerolog.Logger, err error) {
	if b.d == 0 {
		b.d = 5 * time.Millisecond
	} else {
		b.d = min(2*b.d, time.Second)
	}
	if time.Since(b.lastLog) > 5*time.Second {
		b.lastLog = time.Now()
		log.Warn().Err(err).Dur("backoff", b.d).Msg("accept failed; backing off")
	}
	time.Sleep(b.d)
}

func (b *acceptBackoff) reset() { b.d = 0 }

// accepted admits a connection (limits) and starts tracking it; c is nil
// for a socket taken with accept4. A rejected connection is closed with
// closeReset (a reset) and nil is returned.
func (l *listener) accepted(rt *route, c *net.TCPConn, client netip.AddrPort, closeReset func()) *conn {
	// Behind a PROXY header the per-IP limit applies to the real client,
	// once the header is read (conn.proxyHeader, evConn.proxied).
	ip := client.Addr()
	if rt.cfg.ProxyProtocol != "" {
		ip = netip.Addr{}
	}
	if reason := l.admit(rt.cfg, ip); reason != "" {
		l.rejected(client, reason, nil, closeReset)
		return nil
	}
	h := l.gw.newConn(l, rt, c, client)
	if ip.IsValid() && rt.cfg.MaxConnectionsPerIP > 0 {
		h.ipCounted = ip.Unmap()
	}
	return h
}

// admit applies max_connections, and max_connections_per_ip to ip unless ip
// is the zero Addr (a PROXY listener: admitIP runs after the header). It
// returns the rejection reason, or "" after counting the connection in.
func (l *listener) admit(cfg *config.Listener, ip netip.Addr) string {
	n := l.active.Add(1)
	if cfg.MaxConnections > 0 && n > int64(cfg.MaxConnections) {
		l.active.Add(-1)
		return rejectMaxConns
	}
	if ip.IsValid() && !l.admitIP(cfg, ip) {
		l.active.Add(-1)
		return rejectMaxPerIP
	}
	return ""
}

// admitIP counts a connection from ip against max_connections_per_ip; it
// reports false when ip is at the limit.
func (l *listener) admitIP(cfg *config.Listener, ip netip.Addr) bool {
	if cfg.MaxConnectionsPerIP <= 0 {
		return true
	}
	ip = ip.Unmap()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip] >= cfg.MaxConnectionsPerIP {
		return false
	}
	l.perIP[ip]++
	return true
}

// release undoes admit (and admitIP, when h was counted per IP) when a
// connection ends.
func (l *listener) release(h *conn) {
	l.active.Add(-1)
	if ip := h.ipCounted; ip.IsValid() {
		l.mu.Lock()
		if l.perIP[ip] <= 1 {
			delete(l.perIP, ip)
		} else {
			l.perIP[ip]--
		}
		l.mu.Unlock()
	}
}

// rejectLogEvery bounds rejection logging per listener: one line per
// interval, carrying the number of rejections not logged since the last.
const rejectLogEvery = time.Second

// close closes the listening socket (and its duplicate for accept4).
func (l *listener) close() {
	l.mu.Lock()
	l.lnClosed = true
	f := l.rawFile
	l.mu.Unlock()
	l.ln.Close()
	if f != nil {
		f.Close()
	}
}

// reject closes c at once (SO_LINGER 0: a reset, no TIME_WAIT), counts it
// by reason and logs it at a bounded rate, so a flood cannot flood the log.
func (l *listener) reject(c *net.TCPConn, client netip.AddrPort, reason string, err error) {
	l.rejected(client, reason, err, func() { resetCloseConn(c) })
}

// resetCloseConn closes c with SO_LINGER 0: a reset, no TIME_WAIT.
func resetCloseConn(c *net.TCPConn) {
	_ = c.SetLinger(0)
	c.Close()
}

// rejected counts a rejection, runs closeReset and logs it at a bounded rate.
func (l *listener) rejected(client netip.AddrPort, reason string, err error, closeReset func()) {
	// Count first: whoever sees the close may look at the counter.
	if ctr := l.metrics.rejections[reason]; ctr != nil {
		ctr.Inc()
	} else {
		l.metrics.rejectVec.WithLabelValues(l.name, reason).Inc()
	}
	closeReset()
	now := time.Now().UnixNano()
	last := l.rejectLogged.Load()
	if now-last < int64(rejectLogEvery) || !l.rejectLogged.CompareAndSwap(last, now) {
		l.rejectSuppressed.Add(1)
		return
	}
	ev := l.log.Warn().Str("client", client.String()).Str("reason", reason).
		Int64("suppressed", l.rejectSuppressed.Swap(0))
	if err != nil {
		ev = ev.Str("error", truncate(err.Error(), maxLogText))
	}
	ev.Msg("connection rejected")
}
