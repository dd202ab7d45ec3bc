package stream

import (
	"crypto/tls"
	"net"
)

// PrefixConn replays bytes already read (a sniffed prefix) before reading
// from the connection under it. It sits only under a TLS server, never on
// a raw relay path; the relay finds the socket under it through NetConn.
type PrefixConn struct {
	net.Conn
	prefix []byte
}

// NewPrefixConn returns c with prefix read first.
func NewPrefixConn(c net.Conn, prefix []byte) *PrefixConn {
	return &PrefixConn{Conn: c, prefix: prefix}
}

// Read returns the replayed prefix first, then reads from the connection.
func (c *PrefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// NetConn returns the connection under the prefix, as tls.Conn's does.
func (c *PrefixConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes c when it can (TCP, TLS), reporting whether it did.
func CloseWrite(c net.Conn) bool {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite() == nil
	}
	return false
}

// rawTCP returns the TCP socket under c: c itself, or the one under a TLS
// stream (through a PrefixConn too); nil for anything else.
func rawTCP(c net.Conn) *net.TCPConn {
	for range 4 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		case *PrefixConn:
			c = v.Conn
		default:
			return nil
		}
	}
	return nil
}
