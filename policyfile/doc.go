// Package policyfile models Adobe Flash cross-domain policy files: the socket
// policies that Flash Player, AIR and Ruffle read before they open a socket, and
// the URL policies (crossdomain.xml) served over HTTP.
//
// It generates policies deterministically from plain Go values, and answers the
// socket-policy request on a connection that the caller has already identified.
// It knows nothing of HCL or of the gateway: callers build a Policy and render it
// once.
//
// Typical use:
//
//	p := policyfile.Policy{
//		SiteControl: policyfile.MasterOnly,
//		Allow: []policyfile.Allow{{Domain: "*.example.com", ToPorts: "9000-9010"}},
//	}
//	answer := p.SocketAnswer() // policy XML followed by one NUL byte
//	conn.Write(answer)
//
// Reading an operator's file, and asking the player's question:
//
//	for _, f := range policyfile.Lint(data, policyfile.LintOptions{Kind: policyfile.SocketKind}) {
//		log.Print(f) // "3:3: error: ..." or "...: warning: ..."
//	}
//	p, err := policyfile.Parse(data) // strict; err is a *ParseError with line and column
//	d := p.Evaluate("game.example.com", 9000, false)
//	// d.Allowed, d.Rule: the granting <allow-access-from .../> or why not
//
// Evaluate applies one policy's rules; EvaluateSocket adds the master
// policy's site-control (none, master-only, all) and the policy on the
// destination port. Domains compare case-insensitively, IDNs in punycode,
// IP addresses as parsed addresses and never through DNS; an absent secure
// attribute is false, as in every socket policy.
package policyfile
