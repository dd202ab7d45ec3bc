package gateway

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listenConfig sets keepalive, TCP_NODELAY and SO_REUSEPORT once on the
// listening socket: Linux copies socket options to every accepted socket, so
// accepting (also with accept4, for the event loops) costs no setsockopt.
func listenConfig(reusePort bool) (net.ListenConfig, error) {
	return net.ListenConfig{
		KeepAlive: -1, // not per accepted connection: inherited from the listener below
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				opts := [][3]int{
					{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
					{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(keepAliveIdle / time.Second)},
					{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(keepAliveInterval / time.Second)},
					{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveCount},
					// Inherited too: sockets taken with accept4 send
					// relayed messages at once.
					{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
				}
				if reusePort {
					opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1})
				}
				for _, o := range opts {
					if serr = unix.SetsockoptInt(int(fd), o[0], o[1], o[2]); serr != nil {
						return
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}, nil
}
