package policyfile

import (
	"fmt"
	"strconv"
)

// MasterPort is the port of the master socket policy.
const MasterPort = 843

// Decision is the answer to "may a SWF from this domain connect to this
// port?".
type Decision struct {
	Allowed bool
	// Rule is the deciding rule rendered as its element when allowed
	// (`<allow-access-from domain="*.example.com" to-ports="9000"/>`), or why
	// the connection is denied.
	Rule string
}

func (d Decision) String() string {
	if d.Allowed {
		return "allow " + d.Rule
	}
	return "deny " + d.Rule
}

// Evaluate decides, from this policy's allow-access-from rules alone, whether
// a SWF served from domain (over HTTPS when secure) may open a socket to
// port, with the policy served as the master policy (port 843). It ignores
// site-control: see EvaluateSocket for the meta-policy.
//
// A rule grants when its domain matches (see the matching rules in
// domain.go: exact, "*", "*.suffix", literal IPs, no DNS; the empty domain
// of a missing Origin matches only "*"), its to-ports contains port, and it
// does not demand secure="true" of an insecure SWF. A rule without to-ports
// grants no socket port (the player ignores it), and a rule whose to-ports is
// malformed grants nothing. An absent secure attribute is false, as in every
// socket policy. The first granting rule decides.
func (p *Policy) Evaluate(domain string, port int, secure bool) Decision {
	return p.EvaluateFrom(MasterPort, domain, port, secure)
}

// EvaluateFrom is Evaluate for a policy served from servedPort: from a port
// ≥ 1024 a policy grants only ports ≥ 1024 ("*" reads as 1024–65535).
func (p *Policy) EvaluateFrom(servedPort int, domain string, port int, secure bool) Decision {
	if port < 1 || port > 65535 {
		return Decision{Rule: "port " + strconv.Itoa(port) + " is not a TCP port"}
	}
	r := newRequester(domain)
	var needSecure, lowPort *Allow
	for i := range p.Allow {
		a := &p.Allow[i]
		if !r.matches(a.Domain) || !portsContain(a.ToPorts, port) {
			continue
		}
		if servedPort >= 1024 && port < 1024 {
			if lowPort == nil {
				lowPort = a
			}
			continue
		}
		if a.Secure != nil && *a.Secure && !secure {
			if needSecure == nil {
				needSecure = a
			}
			continue
		}
		return Decision{Allowed: true, Rule: a.String()}
	}
	who := fmt.Sprintf("domain %q", domain)
	if !r.valid {
		if domain == "" {
			who = "an empty domain (no Origin; only domain=\"*\" matches it)"
		} else {
			who = fmt.Sprintf("domain %q (not a usable host; only domain=\"*\" matches it)", domain)
		}
	}
	reason := fmt.Sprintf("no allow-access-from rule grants %s port %d", who, port)
	switch {
	case lowPort != nil:
		reason += fmt.Sprintf("; %s is ignored: a policy served from port %d (>= 1024) cannot grant ports below 1024",
			lowPort, servedPort)
	case needSecure != nil:
		reason += fmt.Sprintf("; %s admits only SWFs served over HTTPS", needSecure)
	}
	return Decision{Rule: reason}
}

// SocketMetaPolicy returns the socket meta-policy this policy sets when it is
// the master policy: its site-control value, All when unset. The URL-only
// values by-content-type and by-ftp-filename restrict URL policies only and
// read as All; an unknown value (Parse refuses those) reads as None, the
// safe side.
func (p *Policy) SocketMetaPolicy() string {
	switch p.SiteControl {
	case SiteControlUnset, All, ByContentType, ByFTPFilename:
		return All
	case MasterOnly, None:
		return p.SiteControl
	}
	return None
}

// EvaluateSocket decides a socket connection as the player does. master is
// the policy served on port 843 (nil when none answered: the player then
// assumes an empty policy with the meta-policy "all"); dest is the policy
// served on the destination port itself (nil when none). site-control is
// honoured only in the master policy:
//
//   - none: no policy file is honoured, the master's own rules included;
//   - master-only: only the master's rules count;
//   - all (the socket default): the master's rules, then dest's, which being
//     served from port itself cannot grant ports below 1024 when port ≥ 1024.
func EvaluateSocket(master, dest *Policy, domain string, port int, secure bool) Decision {
	meta := All
	if master != nil {
		meta = master.SocketMetaPolicy()
	}
	if meta == None {
		return Decision{Rule: `the master policy's site-control permitted-cross-domain-policies="none" disables every policy file`}
	}
	var reasons []string
	if master != nil {
		d := master.EvaluateFrom(MasterPort, domain, port, secure)
		if d.Allowed {
			return d
		}
		reasons = append(reasons, "master policy: "+d.Rule)
	} else {
		reasons = append(reasons, "no master policy on port 843")
	}
	if dest != nil {
		if meta == MasterOnly {
			reasons = append(reasons, fmt.Sprintf(`the policy on port %d is ignored: the master policy's site-control is "master-only"`, port))
		} else {
			d := dest.EvaluateFrom(port, domain, port, secure)
			if d.Allowed {
				d.Rule = fmt.Sprintf("%s (policy on port %d)", d.Rule, port)
				return d
			}
			reasons = append(reasons, fmt.Sprintf("policy on port %d: %s", port, d.Rule))
		}
	}
	rule := reasons[0]
	for _, r := range reasons[1:] {
		rule += "; " + r
	}
	return Decision{Rule: rule}
}
