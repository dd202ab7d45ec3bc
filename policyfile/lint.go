package policyfile

import (
	"fmt"
	"strings"
)

// Severity grades a lint finding.
type Severity int

const (
	// Error: the player rejects the file, or ignores the element.
	Error Severity = iota + 1
	// Warning: legal, but dangerous or meaningless.
	Warning
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Finding is one lint result at a 1-based line and column.
type Finding struct {
	Line, Col int
	Severity  Severity
	Msg       string

	err error // sentinel for ParseError
}

// String renders the finding as "LINE:COL: error: msg".
func (f Finding) String() string {
	return fmt.Sprintf("%d:%d: %s: %s", f.Line, f.Col, f.Severity, f.Msg)
}

// Kind says which kind of policy file is linted.
type Kind int

const (
	// AutoKind detects the kind: a socket policy when ServedPort is set or
	// any allow-access-from has to-ports, else a URL policy.
	AutoKind Kind = iota
	// SocketKind is a socket policy, served after <policy-file-request/>.
	SocketKind
	// URLKind is a URL policy (crossdomain.xml over HTTP, HTTPS or FTP).
	URLKind
)

// LintOptions tune Lint.
type LintOptions struct {
	Kind Kind
	// ServedPort is the port a socket policy is served from; 0 if unknown.
	// MasterPort (843) marks the master policy.
	ServedPort int
}

// Lint reports everything Parse refuses (as errors, all of them rather than
// the first), and what the player would ignore or what is dangerous:
//
// Errors (the player rejects the file or ignores the element): size, XML,
// namespaces, entity declarations, unknown site-control values, missing or
// unusable domains, malformed to-ports or secure, and, in a socket policy, an
// allow-access-from without to-ports.
//
// Warnings (legal but dangerous or meaningless): domain="*" with
// to-ports="*" (or domain="*" at all in a URL policy), URL-only content in a
// socket policy (by-content-type, by-ftp-filename,
// allow-http-request-headers-from), to-ports in a URL policy, duplicate
// rules, ports below 1024 granted from a non-master port ≥ 1024, site-control
// outside the master policy, unknown elements and attributes.
//
// Findings come in document order; with no Error among them, Parse succeeds.
func Lint(data []byte, opts LintOptions) []Finding {
	w := newWalker(data, false)
	w.walk()
	if w.failed {
		return sortFindings(w.findings)
	}
	socket := opts.Kind == SocketKind
	if opts.Kind == AutoKind {
		socket = opts.ServedPort != 0
		for _, a := range w.p.Allow {
			if a.ToPorts != "" {
				socket = true
			}
		}
	}
	master := opts.ServedPort == 0 || opts.ServedPort == MasterPort

	if w.siteSeen {
		at := w.sitePos
		switch {
		case socket && (w.p.SiteControl == ByContentType || w.p.SiteControl == ByFTPFilename):
			w.warnf(at, "site-control %q applies to URL policies only; a socket policy reads it as \"all\"", w.p.SiteControl)
		case socket && !master:
			w.warnf(at, "site-control is honoured only in the master policy (port %d); on port %d it is ignored", MasterPort, opts.ServedPort)
		}
	}

	type ruleKey struct {
		domain, ports string
		secure        bool
	}
	seen := map[ruleKey]int{}
	for i, a := range w.p.Allow {
		at := w.allowPos[i]
		if w.incomplete[at] {
			// already reported: no domain
		} else if msg := domainProblem(a.Domain); msg != "" {
			w.errorf(at, nil, "domain %q: %s", a.Domain, msg)
		} else if strings.TrimSpace(a.Domain) != a.Domain {
			w.warnf(at, "domain %q has surrounding spaces", a.Domain)
		}
		ps, perr := ParsePorts(a.ToPorts)
		switch {
		case socket && a.ToPorts == "":
			w.errorf(at, nil, "allow-access-from domain=%q has no to-ports: a socket policy must name the ports it grants (the player ignores this rule)", a.Domain)
		case !socket && a.ToPorts != "":
			w.warnf(at, "to-ports applies to socket policies only; a URL policy ignores it")
		}
		if socket && perr == nil {
			if strings.TrimSpace(a.Domain) == "*" && ps.All() {
				w.warnf(at, `domain="*" with to-ports="*" lets a SWF from any site connect to every port`)
			}
			if low := ps.Privileged(); len(low) > 0 && opts.ServedPort >= 1024 && opts.ServedPort != MasterPort {
				w.warnf(at, "ports below 1024 (%s) granted by a policy served from port %d: the player ignores grants of ports below 1024 from a port >= 1024",
					strings.Join(low, ","), opts.ServedPort)
			}
		}
		if !socket && strings.TrimSpace(a.Domain) == "*" {
			w.warnf(at, `domain="*" lets SWFs from any site read this server's content with the user's cookies`)
		}
		k := ruleKey{domainKey(a.Domain), a.ToPorts, a.Secure != nil && *a.Secure}
		if perr == nil {
			k.ports = ps.String()
		}
		if !socket {
			k.ports = ""
		}
		if j, dup := seen[k]; dup {
			w.warnf(at, "duplicate rule: same as line %d", w.allowPos[j].line)
		} else {
			seen[k] = i
		}
	}

	seenH := map[string]int{}
	for i, h := range w.p.Headers {
		at := w.headerPos[i]
		if socket {
			w.warnf(at, "allow-http-request-headers-from applies to URL policies only; a socket policy ignores it")
		}
		if w.incomplete[at] {
			// already reported: no domain or no headers
		} else if msg := domainProblem(h.Domain); msg != "" {
			w.errorf(at, nil, "domain %q: %s", h.Domain, msg)
		} else if strings.TrimSpace(h.Headers) == "" {
			w.errorf(at, nil, "allow-http-request-headers-from with empty headers")
		}
		k := fmt.Sprintf("%s\x00%s\x00%v", domainKey(h.Domain), strings.ToLower(h.Headers), h.Secure != nil && *h.Secure)
		if j, dup := seenH[k]; dup {
			w.warnf(at, "duplicate rule: same as line %d", w.headerPos[j].line)
		} else {
			seenH[k] = i
		}
	}

	for i, id := range w.p.Identities {
		if id.Fingerprint == "" || id.FingerprintAlgorithm == "" {
			w.warnf(w.identPos[i], "certificate needs both fingerprint and fingerprint-algorithm")
		}
	}
	return sortFindings(w.findings)
}

// sortFindings orders findings by position, keeping the order of findings at
// the same position (a stable insertion sort: there are few).
func sortFindings(fs []Finding) []Finding {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j], fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
	return fs
}

func less(a, b Finding) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}
