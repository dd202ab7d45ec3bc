//go:build unix && !linux

package stream

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// queued reports whether the socket rc has bytes (or EOF, or an error)
// queued, so a read will not block. (A peeked socket error is taken off the
// socket: the read then sees EOF instead of a reset.)
func queued(rc syscall.RawConn) bool {
	var b [1]byte
	ready := false
	_ = rc.Control(func(fd uintptr) {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		ready = err != unix.EAGAIN && err != unix.EINTR
	})
	return ready
}

// queuedBytes is not known here: 0, and callers read in small pieces.
func queuedBytes(syscall.RawConn) int { return 0 }
