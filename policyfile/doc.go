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
package policyfile
