//go:build unix && !linux

package stream

import "golang.org/x/sys/unix"

// peekByte peeks at one byte of socket fd without waiting (MSG_PEEK,
// MSG_DONTWAIT); see peekbyte_linux.go.
func peekByte(fd uintptr, p []byte) error {
	_, _, err := unix.Recvfrom(int(fd), p, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err
}
