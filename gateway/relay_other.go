//go:build !linux

package gateway

import "net"

// copyTCP falls back to the buffered copy where splice(2) does not exist.
func (r *relay) copyTCP(d *direction, _, _ *net.TCPConn) error {
	return r.copyGeneric(d)
}
