//go:build !linux

package gateway

import (
	"net"
	"syscall"
)

// listenConfig asks Go to set keepalive on each accepted connection (Go
// sets TCP_NODELAY on every TCP connection), and sets SO_REUSEPORT on the
// listening socket where the system has it (reuseport_darwin.go,
// reuseport_other.go).
func listenConfig(reusePort bool) (net.ListenConfig, error) {
	lc := net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     keepAliveIdle,
			Interval: keepAliveInterval,
			Count:    keepAliveCount,
		},
	}
	if !reusePort {
		return lc, nil
	}
	if err := reusePortSupported(); err != nil {
		return lc, err
	}
	lc.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
			return err
		}
		return serr
	}
	return lc, nil
}
