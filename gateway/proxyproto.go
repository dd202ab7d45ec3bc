package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2).
//
// A listener with proxy_protocol = "v1" or "v2" expects the header as the
// very first bytes of every connection, within proxyHeaderTimeout of the
// accept (a load balancer sends it at once; sniff_timeout starts after it).
// The header is read exactly — never a byte past it — so the connection
// stays a raw *net.TCPConn with nothing buffered aside, and the relay keeps
// splice: v2 is 16 fixed bytes and then its length; v1 is peeked
// (MSG_PEEK) and only the bytes through "\r\n" are consumed.
//
// The parser is strict about the configured version: a v1 listener refuses
// a v2 header and the reverse. A PROXY command carries the real client
// address, which then replaces the TCP peer everywhere (logs, the per-IP
// limit, the header sent on to a backend); LOCAL (v2) and UNKNOWN (v1), or
// a v2 family other than TCP over IPv4/IPv6, keep the peer address.

// proxyHeaderTimeout bounds the wait for a PROXY header.
const proxyHeaderTimeout = 3 * time.Second

// proxyV1Max is the longest v1 header the specification allows, CRLF included.
const proxyV1Max = 107

// proxyV2Max bounds a v2 header (16 fixed bytes + addresses + TLVs). The
// specification allows 64 KiB; real balancers send well under 1 KiB.
const proxyV2Max = 4096

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// ErrProxyHeader is returned for a missing or malformed PROXY header.
var ErrProxyHeader = errors.New("bad PROXY protocol header")

// errProxyShort means the bytes so far are a valid start of a header.
var errProxyShort = errors.New("PROXY header incomplete")

// proxyHeader is a parsed PROXY header.
type proxyHeader struct {
	Local    bool           // LOCAL or UNKNOWN: keep the TCP peer's address
	Src, Dst netip.AddrPort // when !Local
}

// parseProxyHeader parses a PROXY header of version ("v1" or "v2") at the
// start of b. It returns the header and its length, errProxyShort when b is
// a valid but incomplete start, or an error wrapping ErrProxyHeader. It is a
// pure function over b and never looks past the header.
func parseProxyHeader(b []byte, version string) (proxyHeader, int, error) {
	if version == "v2" {
		return parseProxyV2(b)
	}
	return parseProxyV1(b)
}

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProxyHeader}, args...)...)
}

func parseProxyV1(b []byte) (proxyHeader, int, error) {
	const sig = "PROXY "
	if len(b) < len(sig) {
		if !bytes.Equal(b, []byte(sig[:len(b)])) {
			return proxyHeader{}, 0, proxyErr("v1: does not start with %q", sig)
		}
		return proxyHeader{}, 0, errProxyShort
	}
	if string(b[:len(sig)]) != sig {
		return proxyHeader{}, 0, proxyErr("v1: does not start with %q", sig)
	}
	end := bytes.Index(b[:min(len(b), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= proxyV1Max {
			return proxyHeader{}, 0, proxyErr("v1: no CRLF within %d bytes", proxyV1Max)
		}
		if i := bytes.IndexAny(b, "\r\n\x00"); i >= 0 && !(b[i] == '\r' && i == len(b)-1) {
			return proxyHeader{}, 0, proxyErr("v1: stray control byte at %d", i)
		}
		return proxyHeader{}, 0, errProxyShort
	}
	n := end + 2
	f := strings.Split(string(b[len(sig):end]), " ")
	switch f[0] {
	case "UNKNOWN":
		return proxyHeader{Local: true}, n, nil
	case "TCP4", "TCP6":
	default:
		return proxyHeader{}, 0, proxyErr("v1: protocol %q", f[0])
	}
	if len(f) != 5 {
		return proxyHeader{}, 0, proxyErr("v1: want 4 fields after %s, got %d", f[0], len(f)-1)
	}
	src, err1 := parseV1Addr(f[1], f[3], f[0] == "TCP4")
	dst, err2 := parseV1Addr(f[2], f[4], f[0] == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return proxyHeader{}, 0, proxyErr("v1: %v", err)
	}
	return proxyHeader{Src: src, Dst: dst}, n, nil
}

func parseV1Addr(ip, port string, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.AddrPort{}, fmt.Errorf("address %q", ip)
	}
	if port == "" || len(port) > 5 || (len(port) > 1 && port[0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("port %q", port)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

func parseProxyV2(b []byte) (proxyHeader, int, error) {
	if len(b) < len(proxyV2Sig) {
		if !bytes.Equal(b, proxyV2Sig[:len(b)]) {
			return proxyHeader{}, 0, proxyErr("v2: bad signature")
		}
		return proxyHeader{}, 0, errProxyShort
	}
	if !bytes.Equal(b[:len(proxyV2Sig)], proxyV2Sig) {
		return proxyHeader{}, 0, proxyErr("v2: bad signature")
	}
	if len(b) < 16 {
		return proxyHeader{}, 0, errProxyShort
	}
	verCmd, fam := b[12], b[13]
	if verCmd>>4 != 2 {
		return proxyHeader{}, 0, proxyErr("v2: version %d", verCmd>>4)
	}
	n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if n > proxyV2Max {
		return proxyHeader{}, 0, proxyErr("v2: header of %d bytes exceeds %d", n, proxyV2Max)
	}
	if len(b) < n {
		return proxyHeader{}, 0, errProxyShort
	}
	body := b[16:n]
	switch verCmd & 0xF {
	case 0: // LOCAL: health checks from the balancer itself
		return proxyHeader{Local: true}, n, nil
	case 1: // PROXY
	default:
		return proxyHeader{}, 0, proxyErr("v2: command %d", verCmd&0xF)
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return proxyHeader{}, 0, proxyErr("v2: IPv4 addresses need 12 bytes, have %d", len(body))
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		return proxyHeader{
			Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])),
			Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12])),
		}, n, nil
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return proxyHeader{}, 0, proxyErr("v2: IPv6 addresses need 36 bytes, have %d", len(body))
		}
		src := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		return proxyHeader{
			Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34])),
			Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36])),
		}, n, nil
	default: // UNSPEC, UDP, unix sockets: nothing usable, keep the peer
		return proxyHeader{Local: true}, n, nil
	}
}

// appendProxyHeader appends a PROXY header of version ("v1" or "v2") for a
// TCP connection from src to dst. Invalid addresses give UNKNOWN (v1) or
// LOCAL (v2). Mixed families are sent as IPv6 (IPv4-mapped).
func appendProxyHeader(b []byte, version string, src, dst netip.AddrPort) []byte {
	valid := src.IsValid() && dst.IsValid()
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	v4 := sa.Is4() && da.Is4()
	if !v4 {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	if version == "v2" {
		b = append(b, proxyV2Sig...)
		switch {
		case !valid:
			return append(b, 0x20, 0x00, 0, 0)
		case v4:
			b = append(b, 0x21, 0x11, 0, 12)
			s, d := sa.As4(), da.As4()
			b = append(append(b, s[:]...), d[:]...)
		default:
			b = append(b, 0x21, 0x21, 0, 36)
			s, d := sa.As16(), da.As16()
			b = append(append(b, s[:]...), d[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, src.Port())
		return binary.BigEndian.AppendUint16(b, dst.Port())
	}
	if !valid {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	proto := "TCP6"
	if v4 {
		proto = "TCP4"
	}
	return fmt.Appendf(b, "PROXY %s %s %s %d %d\r\n", proto, sa, da, src.Port(), dst.Port())
}

// readProxyHeader reads exactly one PROXY header of version from c, within
// proxyHeaderTimeout. No byte after the header is consumed.
func readProxyHeader(c *net.TCPConn, version string) (proxyHeader, error) {
	_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
	defer c.SetReadDeadline(time.Time{})
	if version == "v2" {
		var fixed [16]byte
		if _, err := io.ReadFull(c, fixed[:]); err != nil {
			return proxyHeader{}, readErr(fixed[:], version, err)
		}
		n := 16 + int(binary.BigEndian.Uint16(fixed[14:16]))
		if _, _, err := parseProxyV2(fixed[:]); !errors.Is(err, errProxyShort) && err != nil {
			return proxyHeader{}, err
		}
		if n > proxyV2Max {
			return proxyHeader{}, proxyErr("v2: header of %d bytes exceeds %d", n, proxyV2Max)
		}
		buf := make([]byte, n)
		copy(buf, fixed[:])
		if _, err := io.ReadFull(c, buf[16:]); err != nil {
			return proxyHeader{}, readErr(buf[:16], version, err)
		}
		h, _, err := parseProxyV2(buf)
		return h, err
	}
	return readProxyV1(c)
}

// readProxyV1 peeks at the queued bytes and consumes them only up to the
// header's CRLF; bytes before a CRLF that has not arrived yet are header
// bytes and are consumed as they come, so the peek never spins.
func readProxyV1(c *net.TCPConn) (proxyHeader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return proxyHeader{}, err
	}
	var buf [proxyV1Max]byte
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
			return proxyHeader{}, readErr(buf[:have], "v1", err)
		}
		h, n, perr := parseProxyV1(buf[:have+peeked])
		take := have + peeked
		switch {
		case perr == nil:
			take = n
		case !errors.Is(perr, errProxyShort):
			return proxyHeader{}, perr
		}
		// Consume exactly the header bytes now known (all of the peeked
		// bytes when the CRLF has not arrived yet).
		if _, err := io.ReadFull(c, buf[have:take]); err != nil {
			return proxyHeader{}, readErr(buf[:have], "v1", err)
		}
		have = take
		if perr == nil {
			return h, nil
		}
	}
}

func readErr(got []byte, version string, err error) error {
	if len(got) == 0 && errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: connection closed before a header: %w", ErrProxyHeader, version, err)
	}
	return fmt.Errorf("%w: %s: after %d bytes: %w", ErrProxyHeader, version, len(got), err)
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
	var buf [proxyV1Max]byte
	hdr := appendProxyHeader(buf[:0], version, h.client, local)
	_ = bc.SetWriteDeadline(time.Now().Add(proxyHeaderTimeout))
	_, err := bc.Write(hdr)
	_ = bc.SetWriteDeadline(time.Time{})
	return err
}
