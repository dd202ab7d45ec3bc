package wire

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Origin normalisation for the WebSocket cross-domain check: a browser sends
// the page's origin in the Origin header; a SWF in Ruffle runs in that page,
// so the origin's host plays the part of the SWF's domain (origin.go in
// package gateway evaluates it against the listener's policy).

// IDNA converts a host with non-ASCII labels to its ASCII (punycode) form,
// as golang.org/x/net/idna's Lookup profile does. The standard library
// exports none, so the caller passes one in; nil refuses such hosts.
type IDNA func(host string) (string, error)

// OriginHost returns the normalised host of an Origin header value: lower
// case, one trailing dot dropped, IDN in punycode (through idn), port and
// IPv6 brackets removed, IPv4-mapped IPv6 unmapped. A missing, "null" or
// unusable origin gives "" (the empty domain, which only domain="*"
// grants). secure reports an https (or wss) origin.
func OriginHost(origin string, idn IDNA) (host string, secure bool) {
	o := strings.TrimSpace(origin)
	if o == "" || strings.EqualFold(o, "null") {
		return "", false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	secure = scheme == "https" || scheme == "wss"
	return NormalizeHost(u.Host, idn), secure
}

// NormalizeHost normalises a host[:port] as OriginHost does; "" when it is
// not a usable host.
func NormalizeHost(hostport string, idn IDNA) string {
	h := hostport
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return ""
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || (end+1 < len(h) && h[end+1] != ':') {
			return ""
		}
		return ip.Unmap().String()
	}
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	} else if strings.Count(h, ":") == 1 {
		h = strings.TrimSuffix(h, ":")
	}
	h = strings.TrimSuffix(h, ".")
	// An empty label ("a..b", "a..", ".a") is no host a browser sends; the
	// policy matcher would drop a second trailing dot and match "a".
	if h == "" || strings.ContainsAny(h, ":/ \t@[]*") || strings.Contains(h, "..") ||
		strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return ""
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			if idn == nil {
				return ""
			}
			a, err := idn(h)
			if err != nil || a == "" {
				return ""
			}
			// The ASCII form passes the same checks (IDNA may leave an
			// empty label, e.g. ".xn--zn7c" from "Xn--.\xb8").
			for j := 0; j < len(a); j++ {
				if a[j] >= 0x80 {
					return ""
				}
			}
			return NormalizeHost(a, idn)
		}
	}
	return strings.ToLower(h)
}
