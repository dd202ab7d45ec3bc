//go:build unix

package stream

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// canWait: a raw socket can be waited on for readability without a read
// (readWaiter peeks with MSG_PEEK|MSG_DONTWAIT).
const canWait = true

// peerGone reports, as an error, that the peer of socket rc reset the
// connection (or the socket is closed here); nil while it is there. A FIN
// is not "gone": the peer may have half-closed and still wait for an answer.
func peerGone(rc syscall.RawConn) error {
	var soErr int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		soErr, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	}); err != nil {
		return fmt.Errorf("%w: %w", errPeerGone, err)
	}
	if gerr == nil && soErr != 0 {
		return fmt.Errorf("%w: %w", errPeerGone, syscall.Errno(soErr))
	}
	return nil
}

// poll is the RawConn callback: false while nothing is queued. A socket
// error the peek reports is taken off the socket by it (a read after it
// would see EOF instead of the reset), so it is kept for waitRaw to return.
func (w *readWaiter) poll(fd uintptr) bool {
	err := peekByte(fd, w.peek[:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return false
	}
	if err != nil {
		w.err = os.NewSyscallError("read", err)
	}
	return true
}
