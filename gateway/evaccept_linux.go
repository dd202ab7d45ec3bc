package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// serveEvented accepts with accept4 for as long as the listener's route is
// rt, handing each socket to an event loop: no Go connection is built, so
// accepting costs no poller registration, getsockname or setsockopt
// (keepalive and TCP_NODELAY come from the listening socket). It returns
// false once the listener is closed, true when the route changed (or
// accept4 cannot be used) and the caller should look again.
func (l *listener) serveEvented(rt *route) bool {
	rc, err := l.rawConn()
	if err != nil {
		if errors.Is(err, errListenerClosed) {
			return false
		}
		l.log.Warn().Err(err).Msg("accepting through Go's listener instead of accept4")
		l.noRaw = true
		return true
	}
	var acceptErr error
	accept := func(fd uintptr) bool {
		for l.route.Load() == rt {
			nfd, client, err := sysAccept4(int(fd))
			switch {
			case err == nil:
				l.handOver(rt, nfd, client)
			case err == unix.EAGAIN:
				return false
			case err == unix.EINTR || err == unix.ECONNABORTED:
			default:
				acceptErr = err
				return true
			}
		}
		return true
	}
	var backoff time.Duration
	var lastLog time.Time
	for {
		acceptErr = nil
		if err := rc.Read(accept); err != nil {
			return false // closed
		}
		if acceptErr == nil {
			return true // the route changed
		}
		// EMFILE, ENFILE, ENOBUFS, ENOMEM: back off as the Go path does.
		if backoff == 0 {
			backoff = 5 * time.Millisecond
		} else {
			backoff = min(2*backoff, time.Second)
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			l.log.Warn().Err(fmt.Errorf("accept4: %w", acceptErr)).Dur("backoff", backoff).Msg("accept failed; backing off")
		}
		time.Sleep(backoff)
	}
}

// handOver admits an accepted socket and gives it to an event loop.
func (l *listener) handOver(rt *route, fd int, client netip.AddrPort) {
	ip := client.Addr()
	if rt.cfg.ProxyProtocol != "" {
		ip = netip.Addr{} // the per-IP limit applies to the real client, after the header
	}
	if reason := l.admit(rt.cfg, ip); reason != "" {
		l.rejected(client, reason, nil, func() {
			_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			sysClose(fd)
		})
		return
	}
	h := l.gw.newConn(l, rt, nil, client)
	if ip.IsValid() && rt.cfg.MaxConnectionsPerIP > 0 {
		h.ipCounted = ip.Unmap()
	}
	loop := l.gw.loops.pick()
	e := newEvConn(h, loop, fd)
	h.mu.Lock()
	h.ev = e
	h.mu.Unlock()
	if err := loop.add(e); err != nil {
		sysClose(fd)
		h.finish(summary{kind: KindRaw, res: relayResult{Reason: reasonShutdown}})
	}
}

var errListenerClosed = errors.New("listener closed")

// rawConn returns the raw connection of the listener's duplicate, made on
// first use: Go's TCPListener offers no raw Read, the duplicate (an
// *os.File in the Go poller) does.
func (l *listener) rawConn() (rawConnReader, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lnClosed {
		return nil, errListenerClosed
	}
	if l.rawFile == nil {
		f, err := l.ln.File()
		if err != nil {
			return nil, fmt.Errorf("duplicate listener: %w", err)
		}
		l.rawFile = f
	}
	rc, err := l.rawFile.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("duplicate listener: %w", err)
	}
	return rc, nil
}

// rawConnReader is the part of syscall.RawConn the accept loop uses.
type rawConnReader interface {
	Read(func(fd uintptr) bool) error
}
