package stream

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// atEOF settles a read that returned err: at io.EOF it writes what the
// direction's framer held back (a lone '\r') and reports true.
func (d *direction) atEOF(err error) (bool, error) {
	if err != io.EOF {
		return false, nil
	}
	if d.f != nil {
		if tail := d.f.Flush(); tail != nil {
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
