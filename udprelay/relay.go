package udprelay

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
)

// Defaults applied by New when a Config field is zero.
const (
	DefaultIdleTimeout = 60 * time.Second
	DefaultMaxDatagram = 65507 // the largest UDP payload over IPv4
	DefaultMaxSessions = 10000

	maxUDPPayload = 65535
)

// ErrServing is returned by Serve when the relay is already serving or was closed.
var ErrServing = errors.New("udprelay: relay already serving or closed")

// Config describes one relay. It carries plain values only; the gateway
// translates its udp block into it.
type Config struct {
	// Name labels log lines and metrics (the udp block's name).
	Name string
	// Listen is the address New binds ("[::]:55555", "127.0.0.1:0").
	// NewWithConn ignores it.
	Listen string
	// Backends are host:port addresses. Every session starts on the current
	// backend (the first at start); when a backend answers with ICMP port
	// unreachable (ECONNREFUSED on the connected socket) the relay moves on
	// to the next one, round the list. Host names are resolved once, in New.
	Backends []string
	// IdleTimeout ends a session that saw no datagram either way for this
	// long. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxDatagram is the largest payload relayed, either way; larger
	// datagrams are dropped and counted. Zero means DefaultMaxDatagram.
	// 1472 keeps datagrams unfragmented on a 1500-byte IPv4 path.
	MaxDatagram int
	// MaxSessions caps the concurrent sessions; datagrams from new clients
	// beyond it are refused and counted. Zero means DefaultMaxSessions.
	MaxSessions int
}

// Relay maps each client address to its own connected backend socket.
// Its methods are safe for concurrent use.
type Relay struct {
	cfg      Config
	log      zerolog.Logger
	ln       *net.UDPConn
	ownsLn   bool // New bound ln, so Close closes it
	backends []netip.AddrPort
	names    []string // the configured spelling of each backend
	cur      atomic.Int32
	epoch    time.Time // monotonic base for session clocks
	pool     sync.Pool // *[]byte of len MaxDatagram+1
	batches  sync.Pool // Linux: *batch of MaxDatagram+1 buffers, for replies
	lnRaw    syscall.RawConn

	mu       sync.Mutex
	sessions map[netip.AddrPort]*session

	wg       sync.WaitGroup // session goroutines and the sweeper
	serving  atomic.Bool
	closed   atomic.Bool
	done     chan struct{} // closed by shutdown
	stopOnce sync.Once
	served   chan struct{} // closed when Serve returns

	c counters
}

type counters struct {
	active, total, refused       atomic.Int64
	dgramsIn, bytesIn            atomic.Uint64
	dgramsOut, bytesOut          atomic.Uint64
	oversize, backendErr, full   atomic.Uint64
	other, failovers, readErrors atomic.Uint64
}

// New checks cfg, resolves the backends and binds cfg.Listen.
func New(cfg Config, log zerolog.Logger) (*Relay, error) {
	r, err := newRelay(cfg, log)
	if err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("udp %q: listen address %q: %w", cfg.Name, cfg.Listen, err)
	}
	ln, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("udp %q: %w", cfg.Name, err)
	}
	if err := r.setConn(ln); err != nil {
		ln.Close()
		return nil, err
	}
	r.ownsLn = true
	return r, nil
}

// NewWithConn is New over a socket the caller already holds, so a reload can
// hand the same socket to a new relay. The relay never closes conn: Close
// only stops reading from it (through a read deadline, which the next Serve
// on the same conn clears).
func NewWithConn(cfg Config, conn *net.UDPConn, log zerolog.Logger) (*Relay, error) {
	if conn == nil {
		return nil, fmt.Errorf("udp %q: nil conn", cfg.Name)
	}
	r, err := newRelay(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := r.setConn(conn); err != nil {
		return nil, err
	}
	return r, nil
}

// setConn sets the listening socket.
func (r *Relay) setConn(ln *net.UDPConn) error {
	raw, err := ln.SyscallConn()
	if err != nil {
		return fmt.Errorf("udp %q: %w", r.cfg.Name, err)
	}
	r.ln, r.lnRaw = ln, raw
	return nil
}

func newRelay(cfg Config, log zerolog.Logger) (*Relay, error) {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxDatagram == 0 {
		cfg.MaxDatagram = DefaultMaxDatagram
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	switch {
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("udp %q: negative idle timeout %s", cfg.Name, cfg.IdleTimeout)
	case cfg.MaxDatagram < 0 || cfg.MaxDatagram > maxUDPPayload:
		return nil, fmt.Errorf("udp %q: max datagram %d outside 1..%d", cfg.Name, cfg.MaxDatagram, maxUDPPayload)
	case cfg.MaxSessions < 0:
		return nil, fmt.Errorf("udp %q: negative max sessions %d", cfg.Name, cfg.MaxSessions)
	case len(cfg.Backends) == 0:
		return nil, fmt.Errorf("udp %q: no backend", cfg.Name)
	}
	r := &Relay{
		cfg:      cfg,
		log:      log.With().Str("udp", cfg.Name).Logger(),
		epoch:    time.Now(),
		sessions: make(map[netip.AddrPort]*session),
		done:     make(chan struct{}),
		served:   make(chan struct{}),
		names:    append([]string(nil), cfg.Backends...),
	}
	for _, b := range cfg.Backends {
		ap, err := resolve(b)
		if err != nil {
			return nil, fmt.Errorf("udp %q: backend %q: %w", cfg.Name, b, err)
		}
		r.backends = append(r.backends, ap)
	}
	size := cfg.MaxDatagram + 1 // one more byte than allowed: a full read is oversize
	r.pool.New = func() any { b := make([]byte, size); return &b }
	r.initBatches(size)
	return r, nil
}

// resolve turns host:port into an address without touching DNS when it can.
func resolve(hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap, nil
	}
	ua, err := net.ResolveUDPAddr("udp", hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// Addr is the address the relay receives on.
func (r *Relay) Addr() net.Addr { return r.ln.LocalAddr() }

// Conn is the listening socket, for handing over to the next relay on reload
// (meaningful to keep only when the relay was made with NewWithConn).
func (r *Relay) Conn() *net.UDPConn { return r.ln }

// Config is the relay's configuration with defaults applied.
func (r *Relay) Config() Config {
	c := r.cfg
	c.Backends = append([]string(nil), c.Backends...)
	return c
}

// Serve relays until ctx is done or Close is called, then ends every session
// and waits for their goroutines. It returns nil on such a stop, an error only
// when the socket fails for good.
func (r *Relay) Serve(ctx context.Context) error {
	if r.closed.Load() || !r.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer close(r.served)
	stop := context.AfterFunc(ctx, r.shutdown)
	defer stop()
	if !r.ownsLn {
		_ = r.ln.SetReadDeadline(time.Time{}) // a previous relay's Close set it
	}
	r.wg.Add(1)
	go r.sweep()
	err := r.readLoop()
	r.shutdown()
	r.wg.Wait()
	return err
}

// Close stops Serve, ends all sessions and waits for their goroutines. A
// socket bound by New is closed; one passed to NewWithConn is left open.
func (r *Relay) Close() error {
	r.closed.Store(true)
	r.shutdown()
	if r.serving.Load() {
		<-r.served
	}
	r.wg.Wait()
	if r.ownsLn {
		if err := r.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("udp %q: close: %w", r.cfg.Name, err)
		}
	}
	return nil
}

// shutdown unblocks the read loop and ends all sessions; idempotent.
func (r *Relay) shutdown() {
	r.stopOnce.Do(func() {
		close(r.done)
		// Unblock ReadFromUDPAddrPort without closing a borrowed socket.
		_ = r.ln.SetReadDeadline(time.Unix(1, 0))
		r.mu.Lock()
		all := make([]*session, 0, len(r.sessions))
		for k, s := range r.sessions {
			all = append(all, s)
			delete(r.sessions, k)
		}
		r.mu.Unlock()
		for _, s := range all {
			s.end(reasonShutdown)
		}
	})
}

func (r *Relay) stopping() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// readLoop is the hot path: batches of datagrams where the system has
// them (recvmmsg), fixed buffers, no allocation per datagram.
func (r *Relay) readLoop() error {
	rd, err := r.newReader()
	if err != nil {
		return fmt.Errorf("udp %q: %w", r.cfg.Name, err)
	}
	defer rd.release()
	max := r.cfg.MaxDatagram
	var errStreak int
	for {
		n, err := rd.read()
		if err != nil {
			if r.stopping() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("udp %q: listener closed: %w", r.cfg.Name, err)
			}
			// Transient (ICMP errors on the listener, ENOMEM...): count, back
			// off a little if they persist, keep serving.
			r.c.readErrors.Add(1)
			errStreak++
			if errStreak > 3 {
				time.Sleep(5 * time.Millisecond)
			}
			continue
		}
		errStreak = 0
		for i := range n {
			from, p, ok := rd.datagram(i)
			switch {
			case !ok:
				r.c.readErrors.Add(1)
			case len(p) > max:
				r.c.oversize.Add(1)
			default:
				r.forward(from, p)
			}
		}
	}
}

// forward hands one client datagram to its session, making one if needed.
func (r *Relay) forward(from netip.AddrPort, p []byte) {
	for try := 0; try < 2; try++ {
		s := r.lookup(from)
		if s == nil {
			var ok bool
			if s, ok = r.newSession(from); !ok {
				return
			}
		}
		if s.send(p) {
			return
		}
		// The session ended between lookup and send (idle expiry racing a
		// new datagram): the next round makes a fresh one.
	}
}

func (r *Relay) lookup(from netip.AddrPort) *session {
	r.mu.Lock()
	s := r.sessions[from]
	r.mu.Unlock()
	return s
}

// newSession runs on the read loop only, so no other goroutine inserts.
func (r *Relay) newSession(from netip.AddrPort) (*session, bool) {
	r.mu.Lock()
	full := len(r.sessions) >= r.cfg.MaxSessions
	r.mu.Unlock()
	if full {
		r.c.refused.Add(1)
		return nil, false
	}
	idx := int(r.cur.Load())
	bc, err := r.dial(idx)
	if err != nil {
		r.c.backendErr.Add(1)
		return nil, false
	}
	s := newSession(r, from, bc)
	r.mu.Lock()
	if r.stopping() {
		r.mu.Unlock()
		bc.conn.Close()
		return nil, false
	}
	r.sessions[from] = s
	r.mu.Unlock()
	r.c.active.Add(1)
	r.c.total.Add(1)
	r.wg.Add(1)
	go s.replyLoop()
	return s, true
}

// backendConn is one connected socket to one backend.
type backendConn struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	idx  int
}

func (r *Relay) dial(idx int) (*backendConn, error) {
	ap := r.backends[idx]
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("udp %q: dial %s: %w", r.cfg.Name, r.names[idx], err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("udp %q: dial %s: %w", r.cfg.Name, r.names[idx], err)
	}
	return &backendConn{conn: c, raw: raw, idx: idx}, nil
}

// markDown moves new sessions off backend idx, unless another session
// already did.
func (r *Relay) markDown(idx int) {
	n := len(r.backends)
	if n > 1 && r.cur.CompareAndSwap(int32(idx), int32((idx+1)%n)) {
		r.log.Warn().Str("backend", r.names[idx]).Str("next", r.names[(idx+1)%n]).
			Msg("udp backend refused datagrams (port unreachable), moving to next")
	}
}

// sweep ends idle sessions. It ticks at a quarter of the idle timeout (within
// 10ms..1s), so a session lives between IdleTimeout and 1.25×IdleTimeout
// after its last datagram; no timer is touched per datagram.
func (r *Relay) sweep() {
	defer r.wg.Done()
	tick := min(max(r.cfg.IdleTimeout/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	idle := int64(r.cfg.IdleTimeout)
	var expired []*session
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		now := r.now()
		r.mu.Lock()
		for k, s := range r.sessions {
			if now-s.last.Load() >= idle {
				delete(r.sessions, k)
				expired = append(expired, s)
			}
		}
		r.mu.Unlock()
		for i, s := range expired {
			s.end(reasonIdle)
			expired[i] = nil
		}
		expired = expired[:0]
	}
}

// now is the relay's monotonic clock in nanoseconds.
func (r *Relay) now() int64 { return int64(time.Since(r.epoch)) }

// remove drops s from the table if it is still the entry for its client.
func (r *Relay) remove(s *session) {
	r.mu.Lock()
	if r.sessions[s.client] == s {
		delete(r.sessions, s.client)
	}
	r.mu.Unlock()
}
