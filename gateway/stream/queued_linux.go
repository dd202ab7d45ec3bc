package stream

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// queued reports whether the socket rc has bytes queued, so a read will
// not block. It asks SIOCINQ (FIONREAD), which (unlike a MSG_PEEK) leaves a pending
// socket error for the read to report.
func queued(rc syscall.RawConn) bool {
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n > 0
}

// queuedBytes reports how many bytes the socket rc has queued (0 on error).
func queuedBytes(rc syscall.RawConn) int {
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n
}
