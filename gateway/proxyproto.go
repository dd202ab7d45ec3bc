package gateway

import (
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/flashgate/flashgate/gateway/wire"
)

// PROXY protocol readers (the codec is gateway/wire/proxy.go).
//
// A listener with proxy_protocol = "v1" or "v2" expects the header as the
// very first bytes of every connection, within proxyHeaderTimeout of the
// accept (a load balancer sends it at once; sniff_timeout starts after it).
// The header is read exactly — never a byte past it — so the connection
// stays a raw *net.TCPConn with nothing buffered aside, and the relay keeps
// splice: wire.ProxyNeed says how many bytes certainly belong to the header
// (v2: 16 fixed bytes and then its length); v1 is peeked (MSG_PEEK) and only
// the bytes through "\r\n" are consumed. The event loops read it the same
// way in evproxy_linux.go.
//
// A PROXY command carries the real client address, which then replaces the
// TCP peer everywhere (logs, the per-IP limit, the header sent on to a
// backend); LOCAL (v2) and UNKNOWN (v1), or a v2 family other than TCP over
// IPv4/IPv6, keep the peer address.

// proxyHeaderTimeout bounds the wait for a PROXY header.
const proxyHeaderTimeout = 3 * time.Second

// readProxyHeader reads exactly one PROXY header of version from c, within
// proxyHeaderTimeout. No byte after the header is consumed.
func readProxyHeader(c *net.TCPConn, version string) (wire.ProxyHeader, error) {
	_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
	defer c.SetReadDeadline(time.Time{})
	if version != "v2" {
		return readProxyV1(c)
	}
	var fixed [16]byte
	b := fixed[:0]
	for {
		need, err := wire.ProxyNeed(b, version)
		if err != nil {
			return wire.ProxyHeader{}, err
		}
		if need == 0 {
			h, _, err := wire.ParseProxy(b, version)
			return h, err
		}
		if cap(b)-len(b) < need {
			b = append(make([]byte, 0, len(b)+need), b...)
		}
		if _, err := io.ReadFull(c, b[len(b):len(b)+need]); err != nil {
			return wire.ProxyHeader{}, wire.ProxyReadErr(b, version, err)
		}
		b = b[:len(b)+need]
	}
}

// proxyHeader reads the PROXY header on a listener that expects one and
// applies the per-IP limit to the real client. It reports false when the
// connection was rejected (closed at once, counted, logged at a bounded
// rate); the caller then returns without a summary line.
func (h *conn) proxyHeader() bool {
	version := h.rt.cfg.ProxyProtocol
	if version == "" {
		return true
	}
	hdr, err := readProxyHeader(h.c, version)
	if err != nil {
		h.l.reject(h.c, h.client, rejectProxyHeader, err)
		return false
	}
	if !hdr.Local {
		h.client = netip.AddrPortFrom(hdr.Src.Addr().Unmap(), hdr.Src.Port())
		h.local = netip.AddrPortFrom(hdr.Dst.Addr().Unmap(), hdr.Dst.Port())
	}
	if !h.l.admitIP(h.rt.cfg, h.client.Addr()) {
		h.l.reject(h.c, h.client, rejectMaxPerIP, nil)
		return false
	}
	if h.rt.cfg.MaxConnectionsPerIP > 0 {
		h.ipCounted = h.client.Addr().Unmap()
	}
	h.sniffStart = time.Now()
	return true
}

// writeProxyHeader sends the backend's PROXY header for this connection:
// the (real) client address and the address it connected to.
func (h *conn) writeProxyHeader(bc net.Conn, version string) error {
	local := h.local
	if !local.IsValid() {
		local, _ = netip.ParseAddrPort(h.c.LocalAddr().String())
	}
	var buf [wire.ProxyV1Max]byte
	hdr := wire.AppendProxy(buf[:0], version, h.client, local)
	_ = bc.SetWriteDeadline(time.Now().Add(proxyHeaderTimeout))
	_, err := bc.Write(hdr)
	_ = bc.SetWriteDeadline(time.Time{})
	return err
}
