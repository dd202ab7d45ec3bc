package gateway

import (
	"golang.org/x/net/idna"

	"github.com/flashgate/flashgate/gateway/wire"
	"github.com/flashgate/flashgate/policyfile"
)

// Cross-domain enforcement for WebSockets. A browser sends the page's origin
// in the Origin header; a SWF in Ruffle runs in that page, so the origin's
// host plays the part of the SWF's domain. It is evaluated against the
// listener's policy for the listener's own port, exactly as a socket
// connection from Flash would be; an https origin counts as a secure SWF.
// Denied → HTTP 403 before the upgrade, and no backend connection.

// originHost is wire.OriginHost with IDN hosts converted as browsers do
// (golang.org/x/net/idna's Lookup profile).
func originHost(origin string) (host string, secure bool) {
	return wire.OriginHost(origin, idna.Lookup.ToASCII)
}

// normalizeHost is wire.NormalizeHost with originHost's IDN conversion.
func normalizeHost(hostport string) string {
	return wire.NormalizeHost(hostport, idna.Lookup.ToASCII)
}

// checkOrigin decides a WebSocket handshake's Origin for a listener's port.
func checkOrigin(p *policyfile.Policy, origin string, port int) (host string, d policyfile.Decision) {
	host, secure := originHost(origin)
	if p == nil {
		return host, policyfile.Decision{Rule: "the listener has no policy"}
	}
	return host, p.Evaluate(host, port, secure)
}
