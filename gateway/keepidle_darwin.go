package gateway

import "golang.org/x/sys/unix"

// tcpKeepIdle is the socket option for the seconds before the first
// keepalive probe (TCP_KEEPALIVE on Darwin).
const tcpKeepIdle = unix.TCP_KEEPALIVE
