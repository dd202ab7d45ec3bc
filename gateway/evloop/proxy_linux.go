package gateway

import (
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// PROXY headers on the event loops: a listener with proxy_protocol reads
// the header here with the codec readProxyHeader uses (gateway/wire/proxy.go:
// wire.ProxyNeed says how many bytes certainly belong to the header; v1 is
// peeked and only the bytes through CRLF consumed, see proxyV1Take), so
// nothing after it is taken; and a backend with proxy_protocol gets its
// header in front of the first bytes relayed.

// evProxyBuf holds a header while it arrives (v2 TLVs can make it long).
type evProxyBuf struct {
	b    []byte
	have int
}

// proxyTimedOut ends a connection whose header did not come in time.
func (e *evConn) proxyTimedOut() {
	have := []byte(nil)
	if e.px != nil {
		have = e.px.b[:e.px.have]
	}
	e.rejectProxy(readErr(have, e.h.rt.cfg.ProxyProtocol, os.ErrDeadlineExceeded))
}

// readProxy reads the client's PROXY header as far as it has come.
func (e *evConn) readProxy(now int64) {
	version := e.h.rt.cfg.ProxyProtocol
	if e.px == nil {
		e.px = &evProxyBuf{b: make([]byte, wire.ProxyV1Max)}
	}
	px := e.px
	for {
		need, err := wire.ProxyNeed(px.b[:px.have], version)
		if err != nil {
			e.rejectProxy(err)
			return
		}
		if need == 0 {
			hdr, _, err := wire.ParseProxy(px.b[:px.have], version)
			if err != nil {
				e.rejectProxy(err)
				return
			}
			e.px = nil
			e.proxied(hdr, now)
			return
		}
		if !e.cr {
			return
		}
		var n int
		if version == "v2" {
			end := px.have + need
			if len(px.b) < end {
				px.b = append(px.b, make([]byte, end-len(px.b))...)
			}
			n, err = readQueued(e.cfd, px.b[px.have:end], 0, &e.cr)
		} else {
			// Peek, then consume only the bytes that belong to the header
			// (all of them while its CRLF has not come).
			n, err = readQueued(e.cfd, px.b[px.have:wire.ProxyV1Max], unix.MSG_PEEK, &e.cr)
			if err == nil && n > 0 {
				take, _, perr := proxyV1Take(px.b[:px.have+n])
				if perr != nil {
					e.rejectProxy(perr)
					return
				}
				n, err = readQueued(e.cfd, px.b[px.have:take], 0, &e.cr)
			}
		}
		if err != nil {
			e.rejectProxy(readErr(px.b[:px.have], version, err))
			return
		}
		if n == 0 {
			return // nothing queued
		}
		px.have += n
	}
}

// proxied applies a parsed header as conn.proxyHeader does, then goes on:
// sniffing, or dialing for a transparent listener.
func (e *evConn) proxied(hdr proxyHeader, now int64) {
	h := e.h
	if !hdr.Local {
		h.client = netip.AddrPortFrom(hdr.Src.Addr().Unmap(), hdr.Src.Port())
		h.local = netip.AddrPortFrom(hdr.Dst.Addr().Unmap(), hdr.Dst.Port())
	}
	if !h.l.admitIP(h.rt.cfg, h.client.Addr()) {
		e.reject(rejectMaxPerIP, nil)
		return
	}
	if h.rt.cfg.MaxConnectionsPerIP > 0 {
		h.ipCounted = h.client.Addr().Unmap()
	}
	if !h.rt.transparent() {
		e.state = evSniffing
		if st := h.rt.cfg.SniffTimeout; st > 0 {
			e.sniffEnd = now + int64(st)
		}
		e.sniff(now)
		return
	}
	e.toBackend(now)
}

func (e *evConn) rejectProxy(err error) { e.reject(rejectProxyHeader, err) }

// reject ends a connection refused after its PROXY header, as
// listener.reject does: a reset, counted and logged at a bounded rate, no
// summary line.
func (e *evConn) reject(reason string, err error) {
	fd := e.detach()
	e.h.l.rejected(e.h.client, reason, err, func() { resetClose(fd) })
	e.h.done()
}

// backendProxyHeader puts the backend's PROXY header (the real client and
// the address it connected to) in front of what waits for the backend. Its
// bytes are not counted as relayed.
func (e *evConn) backendProxyHeader() {
	h := e.h
	version := h.rt.backend.cfg.ProxyProtocol
	if version == "" {
		return
	}
	local := h.local
	if !local.IsValid() {
		if sa, err := unix.Getsockname(e.cfd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
			case *unix.SockaddrInet6:
				local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
			}
		}
	}
	var buf [wire.ProxyV1Max]byte
	hdr := wire.AppendProxy(buf[:0], version, h.client, local)
	d := &e.up
	if d.pend == nil {
		d.pend = copyBufPool.Get().(*[]byte)
		d.off, d.end = 0, 0
	}
	p := *d.pend
	copy(p[len(hdr):], p[d.off:d.end])
	copy(p, hdr)
	d.end = len(hdr) + d.end - d.off
	d.off = 0
	e.hdrLen = int64(len(hdr))
}
