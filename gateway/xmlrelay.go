package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// XMLSocket framing is gateway/wire/framing.go.

// xmlBufSize is the read size of the xml relay; one spare byte in front of it
// takes a held-back '\r'.
const xmlBufSize = copyBufSize

var xmlBufPool = sync.Pool{New: func() any { b := make([]byte, xmlBufSize+1); return &b }}

// xmlResult is an xml relay's summary.
type xmlResult struct {
	relayResult
	MsgsUp, MsgsDown int64
}

// runXMLRelay relays an XMLSocket connection through the one relay
// (relayStreams): NUL-framed messages both ways, max_message enforced per
// message, "line" backend framing translated. prefix holds bytes already
// read from the client. Both connections are closed when it returns.
func runXMLRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration, max int64, backendFraming string) xmlResult {
	upMode, downMode := xmlModes(backendFraming)
	up, down := newFramer(upMode, max), newFramer(downMode, max)
	res := relayStreams(client, prefix, backend, idle, up, down)
	return xmlResult{relayResult: res, MsgsUp: up.msgs, MsgsDown: down.msgs}
}

// atEOF settles a read that returned err: at io.EOF it writes what the
// direction's framer held back (a lone '\r') and reports true.
func (d *direction) atEOF(err error) (bool, error) {
	if err != io.EOF {
		return false, nil
	}
	if d.f != nil {
		if tail := d.f.flush(); tail != nil {
			if err := d.write(tail); err != nil {
				return true, err
			}
			d.n++
		}
	}
	return true, nil
}

// readWaiter waits until a connection has bytes queued (or EOF, or an error)
// without holding a buffer: on a raw socket it parks in the poller through
// syscall.RawConn, peeking one byte. Other connections return at once and
// the caller's Read blocks instead.
type readWaiter struct {
	rc   syscall.RawConn
	fn   func(uintptr) bool
	err  error // an error the peek took off the socket (a reset)
	peek [1]byte
}

func (w *readWaiter) wait(c net.Conn) error {
	if w.fn == nil {
		w.fn = w.poll
		if sc, ok := c.(syscall.Conn); ok && canWait {
			if rc, err := sc.SyscallConn(); err == nil {
				w.rc = rc
			}
		}
	}
	return w.waitRaw(w.rc)
}

// waitRaw is wait on the raw socket rc (nil: return at once).
func (w *readWaiter) waitRaw(rc syscall.RawConn) error {
	if rc == nil {
		return nil
	}
	if w.fn == nil {
		w.fn = w.poll
	}
	err := rc.Read(w.fn)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && errors.Is(err, syscall.EBADF) {
		return net.ErrClosed
	}
	if err == nil && w.err != nil {
		err, w.err = w.err, nil
	}
	return err
}

// poll is the RawConn callback: false while nothing is queued. A socket
// error the peek reports is taken off the socket by it (a read after it
// would see EOF instead of the reset), so it is kept for waitRaw to return.
func (w *readWaiter) poll(fd uintptr) bool {
	_, _, err := unix.Recvfrom(int(fd), w.peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false
	}
	if err != nil {
		w.err = os.NewSyscallError("read", err)
	}
	return true
}

// relay runs the relay to a dialed backend: framed for protocol "xml"
// (except TLS and HTTP, which are relayed as plain bytes), binary otherwise.
func (h *conn) relay(s summary, prefix []byte, bc net.Conn) summary {
	cfg := h.rt.cfg
	if cfg.Protocol == "xml" && s.kind != KindTLS && s.kind != KindHTTP {
		x := runXMLRelay(h.cc, prefix, bc, cfg.IdleTimeout, cfg.MaxMessage, h.rt.backend.cfg.Framing)
		s.res = x.relayResult
		s.ext.proto = "xml"
		s.ext.msgsUp, s.ext.msgsDown = x.MsgsUp, x.MsgsDown
		return s
	}
	s.res = runRelay(h.cc, prefix, bc, cfg.IdleTimeout)
	return s
}
