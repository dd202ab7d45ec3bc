package evloop

import (
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// PROXY headers on the event loops: a listener with proxy_protocol reads
// the header here with the codec of gateway/wire/proxy.go (wire.ProxyNeed
// says how many bytes certainly belong to the header; v1 is peeked and only
// the bytes through CRLF consumed, see wire.ProxyV1Take), so
// nothing after it is taken; and a backend with proxy_protocol gets its
// header in front of the first bytes relayed.

// evProxyBuf holds a header while it arrives (v2 TLVs can make it long).
type evProxyBuf struct {
	b    []byte
	have int
}

// proxyTimedOut ends a connection whose header did not come in time.
func (e *Conn) proxyTimedOut() {
	have := []byte(nil)
	if e.px != nil {
		have = e.px.b[:e.px.have]
	}
	e.rejectProxy(wire.ProxyReadErr(have, e.proxyIn, os.ErrDeadlineExceeded))
}

// readProxy reads the client's PROXY header as far as it has come.
func (e *Conn) readProxy(now int64) {
	version := e.proxyIn
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
				take, _, perr := wire.ProxyV1Take(px.b[:px.have+n])
				if perr != nil {
					e.rejectProxy(perr)
					return
				}
				n, err = readQueued(e.cfd, px.b[px.have:take], 0, &e.cr)
			}
		}
		if err != nil {
			e.rejectProxy(wire.ProxyReadErr(px.b[:px.have], version, err))
			return
		}
		if n == 0 {
			return // nothing queued
		}
		px.have += n
	}
}

// proxied hands a parsed header to the Host, then goes on: sniffing, or
// dialing for a transparent listener.
func (e *Conn) proxied(hdr wire.ProxyHeader, now int64) {
	if reason := e.h.AdmitProxied(hdr); reason != "" {
		e.reject(reason, nil)
		return
	}
	if !e.transp {
		e.state = evSniffing
		if e.sniffDur > 0 {
			e.sniffEnd = now + e.sniffDur
		}
		e.sniff(now)
		return
	}
	e.toBackend(now)
}

func (e *Conn) rejectProxy(err error) { e.reject("", err) }

// reject ends a connection refused after its PROXY header: the Host resets
// the socket, counts and logs it; no summary follows.
func (e *Conn) reject(reason string, err error) {
	fd := e.detach()
	e.h.Reject(fd, reason, err)
}

// backendProxyHeader puts the backend's PROXY header (the real client and
// the address it connected to) in front of what waits for the backend. Its
// bytes are not counted as relayed.
func (e *Conn) backendProxyHeader() {
	version := e.dial.ProxyOut()
	if version == "" {
		return
	}
	client, local := e.h.Addrs()
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
	hdr := wire.AppendProxy(buf[:0], version, client, local)
	d := &e.up
	if d.pend == nil {
		d.pend = bufPool.Get().(*[]byte)
		d.off, d.end = 0, 0
	}
	p := *d.pend
	copy(p[len(hdr):], p[d.off:d.end])
	copy(p, hdr)
	d.end = len(hdr) + d.end - d.off
	d.off = 0
	e.hdrLen = int64(len(hdr))
}
