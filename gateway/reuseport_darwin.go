package gateway

import "golang.org/x/sys/unix"

// reusePortSupported reports nil: macOS has SO_REUSEPORT.
func reusePortSupported() error { return nil }

// setReusePort sets SO_REUSEPORT on a socket before it binds.
func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
