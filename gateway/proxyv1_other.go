//go:build !unix

package gateway

import (
	"io"
	"net"

	"github.com/flashgate/flashgate/gateway/wire"
)

// readProxyV1 reads the v1 header one byte at a time: without MSG_PEEK
// (see proxyv1_unix.go) that is the portable way to consume exactly the
// header, up to its CRLF, and none of the client's bytes after it.
func readProxyV1(c *net.TCPConn) (wire.ProxyHeader, error) {
	var buf [wire.ProxyV1Max]byte
	have := 0
	for {
		if have == len(buf) {
			_, _, err := wire.ParseProxy(buf[:have], "v1")
			return wire.ProxyHeader{}, wire.ProxyReadErr(buf[:have], "v1", err)
		}
		if _, err := io.ReadFull(c, buf[have:have+1]); err != nil {
			return wire.ProxyHeader{}, wire.ProxyReadErr(buf[:have], "v1", err)
		}
		take, done, err := wire.ProxyV1Take(buf[:have+1])
		if err != nil {
			return wire.ProxyHeader{}, err
		}
		have = take
		if done {
			h, _, err := wire.ParseProxy(buf[:have], "v1")
			return h, err
		}
	}
}
