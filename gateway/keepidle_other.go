//go:build !darwin

package gateway

import "golang.org/x/sys/unix"

// tcpKeepIdle is the socket option for the seconds before the first
// keepalive probe.
const tcpKeepIdle = unix.TCP_KEEPIDLE
