package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2).
//
// The parser is strict about the configured version ("v1" or "v2"): a v1
// listener refuses a v2 header and the reverse. A PROXY command carries the
// real client address; LOCAL (v2) and UNKNOWN (v1), or a v2 family other
// than TCP over IPv4/IPv6, are reported as Local: keep the TCP peer.
//
// A reader must take exactly the header's bytes and none after them, so the
// connection stays a raw socket with nothing buffered aside. ProxyNeed tells
// it how far it may read: v2 is 16 fixed bytes and then its length; v1 ends
// at its CRLF, so a v1 reader peeks and consumes only through the CRLF.
// proxyproto.go and evproxy_linux.go in package gateway are the two readers.

// ProxyV1Max is the longest v1 header the specification allows, CRLF included.
const ProxyV1Max = 107

// ProxyV2Max bounds a v2 header (16 fixed bytes + addresses + TLVs). The
// specification allows 64 KiB; real balancers send well under 1 KiB.
const ProxyV2Max = 4096

// proxyV2Sig is the 12-byte signature every v2 header starts with.
const proxyV2Sig = "\r\n\r\n\x00\r\nQUIT\n"

// ProxyV2Sig returns the 12-byte signature a v2 header starts with.
func ProxyV2Sig() []byte { return []byte(proxyV2Sig) }

// ErrProxyHeader is returned for a missing or malformed PROXY header.
var ErrProxyHeader = errors.New("bad PROXY protocol header")

// ErrProxyShort means the bytes so far are a valid start of a header.
var ErrProxyShort = errors.New("PROXY header incomplete")

// ProxyHeader is a parsed PROXY header.
type ProxyHeader struct {
	Local    bool           // LOCAL or UNKNOWN: keep the TCP peer's address
	Src, Dst netip.AddrPort // when !Local
}

// ProxyNeed reports how many more bytes a reader needs after b, the bytes of
// a PROXY header of version ("v1" or "v2") received so far. need == 0: b
// holds a whole header (and possibly bytes after it); ParseProxy then gives
// the header and its length. need > 0: the next need bytes all belong to
// the header, so a reader may take exactly that many. A v1 header's length
// is known only at its CRLF: need is 1 until then, and a v1 reader peeks
// and consumes the peeked bytes through the first CRLF only. An error wraps
// ErrProxyHeader: b cannot start a header.
func ProxyNeed(b []byte, version string) (need int, err error) {
	if version != "v2" {
		_, _, err := parseProxyV1(b)
		switch {
		case err == nil:
			return 0, nil
		case errors.Is(err, ErrProxyShort):
			return 1, nil
		}
		return 0, err
	}
	if len(b) < 16 {
		if err := checkV2Fixed(b); err != nil {
			return 0, err
		}
		return 16 - len(b), nil
	}
	n, err := v2Len(b)
	if err != nil {
		return 0, err
	}
	return max(n-len(b), 0), nil
}

// ParseProxy parses a PROXY header of version ("v1" or "v2") at the start of
// b. It returns the header and its length, ErrProxyShort when b is a valid
// but incomplete start, or an error wrapping ErrProxyHeader. It never looks
// past the header.
func ParseProxy(b []byte, version string) (ProxyHeader, int, error) {
	if version == "v2" {
		return parseProxyV2(b)
	}
	return parseProxyV1(b)
}

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProxyHeader}, args...)...)
}

func parseProxyV1(b []byte) (ProxyHeader, int, error) {
	const sig = "PROXY "
	if len(b) < len(sig) {
		if string(b) != sig[:len(b)] {
			return ProxyHeader{}, 0, proxyErr("v1: does not start with %q", sig)
		}
		return ProxyHeader{}, 0, ErrProxyShort
	}
	if string(b[:len(sig)]) != sig {
		return ProxyHeader{}, 0, proxyErr("v1: does not start with %q", sig)
	}
	end := bytes.Index(b[:min(len(b), ProxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= ProxyV1Max {
			return ProxyHeader{}, 0, proxyErr("v1: no CRLF within %d bytes", ProxyV1Max)
		}
		if i := bytes.IndexAny(b, "\r\n\x00"); i >= 0 && !(b[i] == '\r' && i == len(b)-1) {
			return ProxyHeader{}, 0, proxyErr("v1: stray control byte at %d", i)
		}
		return ProxyHeader{}, 0, ErrProxyShort
	}
	n := end + 2
	var f [6][]byte // at most 5 fields; a sixth means too many
	nf := 0
	for rest := b[len(sig):end]; nf < len(f); nf++ {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			f[nf] = rest
			nf++
			break
		}
		f[nf], rest = rest[:i], rest[i+1:]
	}
	proto := string(f[0])
	switch proto {
	case "UNKNOWN":
		return ProxyHeader{Local: true}, n, nil
	case "TCP4", "TCP6":
	default:
		return ProxyHeader{}, 0, proxyErr("v1: protocol %q", f[0])
	}
	if nf != 5 {
		return ProxyHeader{}, 0, proxyErr("v1: want 4 fields after %s", proto)
	}
	src, err1 := parseV1Addr(f[1], f[3], proto == "TCP4")
	dst, err2 := parseV1Addr(f[2], f[4], proto == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return ProxyHeader{}, 0, proxyErr("v1: %v", err)
	}
	return ProxyHeader{Src: src, Dst: dst}, n, nil
}

func parseV1Addr(ip, port []byte, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(string(ip))
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.AddrPort{}, fmt.Errorf("address %q", ip)
	}
	if len(port) == 0 || len(port) > 5 || (len(port) > 1 && port[0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("port %q", port)
	}
	p, err := strconv.ParseUint(string(port), 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// checkV2Fixed checks what b holds of a v2 header's 16 fixed bytes: the
// signature, then the version nibble.
func checkV2Fixed(b []byte) error {
	sig := b[:min(len(b), len(proxyV2Sig))]
	if string(sig) != proxyV2Sig[:len(sig)] {
		return proxyErr("v2: bad signature")
	}
	if len(b) > 12 && b[12]>>4 != 2 {
		return proxyErr("v2: version %d", b[12]>>4)
	}
	return nil
}

// v2Len returns the length of the v2 header whose fixed part b starts with.
func v2Len(b []byte) (int, error) {
	if err := checkV2Fixed(b[:16]); err != nil {
		return 0, err
	}
	n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if n > ProxyV2Max {
		return 0, proxyErr("v2: header of %d bytes exceeds %d", n, ProxyV2Max)
	}
	return n, nil
}

func parseProxyV2(b []byte) (ProxyHeader, int, error) {
	if len(b) < 16 {
		if err := checkV2Fixed(b); err != nil {
			return ProxyHeader{}, 0, err
		}
		return ProxyHeader{}, 0, ErrProxyShort
	}
	n, err := v2Len(b)
	if err != nil {
		return ProxyHeader{}, 0, err
	}
	if len(b) < n {
		return ProxyHeader{}, 0, ErrProxyShort
	}
	verCmd, fam, body := b[12], b[13], b[16:n]
	switch verCmd & 0xF {
	case 0: // LOCAL: health checks from the balancer itself
		return ProxyHeader{Local: true}, n, nil
	case 1: // PROXY
	default:
		return ProxyHeader{}, 0, proxyErr("v2: command %d", verCmd&0xF)
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return ProxyHeader{}, 0, proxyErr("v2: IPv4 addresses need 12 bytes, have %d", len(body))
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		return ProxyHeader{
			Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])),
			Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12])),
		}, n, nil
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return ProxyHeader{}, 0, proxyErr("v2: IPv6 addresses need 36 bytes, have %d", len(body))
		}
		src := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		return ProxyHeader{
			Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34])),
			Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36])),
		}, n, nil
	default: // UNSPEC, UDP, unix sockets: nothing usable, keep the peer
		return ProxyHeader{Local: true}, n, nil
	}
}

// AppendProxy appends a PROXY header of version ("v1" or "v2") for a TCP
// connection from src to dst. Invalid addresses give UNKNOWN (v1) or LOCAL
// (v2). Mixed families are sent as IPv6 (IPv4-mapped). The header is at
// most ProxyV1Max bytes, so a buffer of that capacity takes it without
// allocating.
func AppendProxy(b []byte, version string, src, dst netip.AddrPort) []byte {
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
	b = append(b, "PROXY TCP6 "...)
	if v4 {
		b[len(b)-2] = '4'
	}
	b = sa.AppendTo(b)
	b = append(b, ' ')
	b = da.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// ProxyV1Take tells a v1 reader, from the bytes consumed so far followed by
// the bytes it peeked (b), how many of b belong to the header: through the
// CRLF when it is in b (done), else all of them.
func ProxyV1Take(b []byte) (take int, done bool, err error) {
	need, err := ProxyNeed(b, "v1")
	if err != nil || need > 0 {
		return len(b), false, err
	}
	_, n, err := ParseProxy(b, "v1")
	return n, err == nil, err
}

// ProxyReadErr is the error of a PROXY header that did not come whole: got
// is what came, err why no more did.
func ProxyReadErr(got []byte, version string, err error) error {
	if len(got) == 0 && errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: connection closed before a header: %w", ErrProxyHeader, version, err)
	}
	return fmt.Errorf("%w: %s: after %d bytes: %w", ErrProxyHeader, version, len(got), err)
}
