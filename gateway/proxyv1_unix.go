//go:build unix

package gateway

import (
	"io"
	"net"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// readProxyV1 peeks at the queued bytes and consumes them only up to the
// header's CRLF; bytes before a CRLF that has not arrived yet are header
// bytes and are consumed as they come, so the peek never spins.
func readProxyV1(c *net.TCPConn) (wire.ProxyHeader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return wire.ProxyHeader{}, err
	}
	var buf [wire.ProxyV1Max]byte
	have := 0
	for {
		var peeked int
		var perr error
		err := rc.Read(func(fd uintptr) bool {
			peeked, _, perr = unix.Recvfrom(int(fd), buf[have:], unix.MSG_PEEK)
			return perr != unix.EAGAIN
		})
		if err == nil {
			err = perr
		}
		if err == nil && peeked == 0 {
			err = io.EOF
		}
		if err != nil {
			return wire.ProxyHeader{}, wire.ProxyReadErr(buf[:have], "v1", err)
		}
		take, done, perr := wire.ProxyV1Take(buf[:have+peeked])
		if perr != nil {
			return wire.ProxyHeader{}, perr
		}
		// Consume exactly the header bytes now known (all of the peeked
		// bytes when the CRLF has not arrived yet).
		if _, err := io.ReadFull(c, buf[have:take]); err != nil {
			return wire.ProxyHeader{}, wire.ProxyReadErr(buf[:have], "v1", err)
		}
		have = take
		if done {
			h, _, err := wire.ParseProxy(buf[:have], "v1")
			return h, err
		}
	}
}
