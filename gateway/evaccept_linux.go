package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
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
			nfd, client, err := evloop.Accept4(int(fd))
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
	var backoff acceptBackoff
	for {
		acceptErr = nil
		if err := rc.Read(accept); err != nil {
			return false // closed
		}
		if acceptErr == nil {
			return true // the route changed
		}
		// EMFILE, ENFILE, ENOBUFS, ENOMEM: back off as the Go path does.
		backoff.wait(l.log, fmt.Errorf("accept4: %w", acceptErr))
	}
}

// handOver admits an accepted socket and gives it to an event loop.
func (l *listener) handOver(rt *route, fd int, client netip.AddrPort) {
	h := l.accepted(rt, nil, client, func() { resetClose(fd) })
	if h == nil {
		return
	}
	e := l.gw.loops.Prepare(fd, (*evHost)(h))
	h.mu.Lock()
	h.ev = e
	h.mu.Unlock()
	if err := e.Start(); err != nil {
		unix.Close(fd)
		h.finish(summary{kind: wire.KindRaw, res: stream.Result{Reason: stream.ReasonShutdown}})
	}
}

var errListenerClosed = errors.New("listener closed")

// resetClose closes fd with SO_LINGER 0: a reset, no TIME_WAIT.
func resetClose(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
	unix.Close(fd)
}

// rawConn returns the raw connection of the listener's duplicate, made on
// first use: Go's TCPListener offers no raw Read, the duplicate (an
// *os.File in the Go poller) does.
func (l *listener) rawConn() (syscall.RawConn, error) {
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
