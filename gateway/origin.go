package gateway

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/idna"

	"github.com/flashgate/flashgate/policyfile"
)

// Cross-domain enforcement for WebSockets. A browser sends the page's origin
// in the Origin header; a SWF in Ruffle runs in that page, so the origin's
// host plays the part of the SWF's domain. It is evaluated against the
// listener's policy for the listener's own port, exactly as a socket
// connection from Flash would be; an https origin counts as a secure SWF.
// Denied → HTTP 403 before the upgrade, and no backend connection.

// originHost returns the normalised host of an Origin header value: lower
// case, one trailing dot dropped, IDN in punycode, port and IPv6 brackets
// removed, IPv4-mapped IPv6 unmapped. A missing, "null" or unusable origin
// gives "" (the empty domain, which only domain="*" grants). secure reports
// an https (or wss) origin.
func originHost(origin string) (host string, secure bool) {
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
	return normalizeHost(u.Host), secure
}

// normalizeHost normalises a host[:port] as originHost does; "" when it is
// not a usable host.
func normalizeHost(hostport string) string {
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
			a, err := idna.Lookup.ToASCII(h)
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
			return normalizeHost(a)
		}
	}
	return strings.ToLower(h)
}

// checkOrigin decides a WebSocket handshake's Origin for a listener's port.
func checkOrigin(p *policyfile.Policy, origin string, port int) (host string, d policyfile.Decision) {
	host, secure := originHost(origin)
	if p == nil {
		return host, policyfile.Decision{Rule: "the listener has no policy"}
	}
	return host, p.Evaluate(host, port, secure)
}
