package stream

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peekByte peeks at one byte of socket fd without waiting (MSG_PEEK,
// MSG_DONTWAIT). It calls recvfrom(2) with no source address, so, unlike
// unix.Recvfrom (whose sockaddr escapes to the heap), it allocates nothing:
// the relay calls it on every wake-up (see readWaiter.poll).
func peekByte(fd uintptr, p []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
