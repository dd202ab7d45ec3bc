//go:build unix

package gateway

import (
	"fmt"
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
		return fmt.Errorf("peer gone while the other side stalled: %w", err)
	}
	if gerr == nil && soErr != 0 {
		return fmt.Errorf("peer gone while the other side stalled: %w", syscall.Errno(soErr))
	}
	return nil
}
