package policyfile

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// Domain matching, as the player does it:
//
//   - "*" matches every requester, IP addresses and the empty domain included;
//   - "*.example.com" matches example.com and any name ending in
//     ".example.com", never badexample.com or example.com.evil.org; a
//     wildcard anywhere else, or before an IP address, matches nothing;
//   - an IP address matches only the same address written as an IP (no DNS):
//     addresses are parsed, so "[2001:db8:0:0:0:0:0:1]", "[2001:db8::1]" and
//     "2001:db8::1" agree, and an IPv4-mapped IPv6 address equals its IPv4
//     form;
//   - any other value matches that host exactly, case-insensitively.
//
// One trailing dot is ignored on both sides. Internationalised names are
// compared in their ASCII (punycode) form, so "bücher.example" in a policy
// matches an Origin of "xn--bcher-kva.example"; a non-ASCII name that is not a
// valid IDN matches nothing.

// requester is a normalised requesting domain.
type requester struct {
	host  string // lowercase ASCII form without a trailing dot; "" if none
	ip    netip.Addr
	isIP  bool
	valid bool // false: an empty or unusable domain, matched only by "*"
}

func newRequester(domain string) requester {
	d := strings.TrimSpace(domain)
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return requester{}
	}
	if ip, ok := parseIP(d); ok {
		return requester{ip: ip, isIP: true, valid: true}
	}
	h, ok := asciiHost(d)
	if !ok {
		return requester{}
	}
	return requester{host: h, valid: true}
}

// parseIP parses an IP address, bracketed or not, and unmaps IPv4-mapped
// IPv6 addresses.
func parseIP(s string) (netip.Addr, bool) {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if s == "" || (strings.IndexByte(s, ':') < 0 && (s[0] < '0' || s[0] > '9')) {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// asciiHost returns s in a form for case-insensitive comparison: ASCII names
// unchanged (compared with EqualFold), other names converted to punycode.
func asciiHost(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(s)
			if err != nil || a == "" {
				return "", false
			}
			return a, true
		}
	}
	return s, true
}

// matches reports whether the policy domain pattern grants r.
func (r *requester) matches(pattern string) bool {
	p := strings.TrimSpace(pattern)
	if p == "*" {
		return true
	}
	if !r.valid {
		return false
	}
	p = strings.TrimSuffix(p, ".")
	if suffix, ok := strings.CutPrefix(p, "*."); ok {
		if r.isIP || suffix == "" || strings.IndexByte(suffix, '*') >= 0 {
			return false
		}
		if _, isIP := parseIP(suffix); isIP {
			return false
		}
		suffix, ok = asciiHost(suffix)
		if !ok {
			return false
		}
		h := r.host
		if len(h) == len(suffix) {
			return strings.EqualFold(h, suffix)
		}
		return len(h) > len(suffix) && h[len(h)-len(suffix)-1] == '.' &&
			strings.EqualFold(h[len(h)-len(suffix):], suffix)
	}
	if p == "" || strings.IndexByte(p, '*') >= 0 {
		return false
	}
	if ip, ok := parseIP(p); ok {
		return r.isIP && r.ip == ip
	}
	if r.isIP {
		return false
	}
	h, ok := asciiHost(p)
	return ok && strings.EqualFold(h, r.host)
}

// domainProblem explains why a policy domain can never match, or returns "".
func domainProblem(pattern string) string {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return "empty domain matches nothing"
	case p == "*":
		return ""
	case strings.Contains(p, "://") || strings.ContainsAny(p, "/?#@"):
		return "domain must be a host name, not a URL: this rule matches nothing"
	}
	p = strings.TrimSuffix(p, ".")
	if suffix, ok := strings.CutPrefix(p, "*."); ok {
		if suffix == "" || strings.IndexByte(suffix, '*') >= 0 {
			return "a wildcard must be \"*\" or \"*.suffix\": this rule matches nothing"
		}
		if _, isIP := parseIP(suffix); isIP {
			return "wildcards do not apply to IP addresses: this rule matches nothing"
		}
		if _, ok := asciiHost(suffix); !ok {
			return "domain is not a valid internationalised name: this rule matches nothing"
		}
		return ""
	}
	if strings.IndexByte(p, '*') >= 0 {
		return "a wildcard must be \"*\" or \"*.suffix\": this rule matches nothing"
	}
	if _, ok := parseIP(p); ok {
		return ""
	}
	if strings.IndexByte(p, ':') >= 0 || strings.IndexByte(p, '[') >= 0 {
		return "domain must be a host name or an IP address without a port: this rule matches nothing"
	}
	if _, ok := asciiHost(p); !ok {
		return "domain is not a valid internationalised name: this rule matches nothing"
	}
	return ""
}

// domainKey is a normalised domain for finding duplicate rules.
func domainKey(pattern string) string {
	p := strings.TrimSuffix(strings.TrimSpace(pattern), ".")
	if ip, ok := parseIP(p); ok {
		return ip.String()
	}
	if h, ok := asciiHost(p); ok {
		return strings.ToLower(h)
	}
	return p
}
