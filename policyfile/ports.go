package policyfile

import (
	"fmt"
	"strconv"
	"strings"
)

// PortSet is a parsed to-ports value: "*", or a set of ports and ranges.
// The zero value grants no port.
type PortSet struct {
	all    bool
	ranges []portRange // in the order written
}

type portRange struct{ lo, hi uint16 }

// ParsePorts parses a to-ports value: a port ("9000"), a comma list
// ("9000,9443"), a-b ranges ("9000-9010"), any mix of them, or "*" for every
// port. Spaces around items are tolerated. Ports are 1–65535; an empty value,
// an empty item, a reversed range or anything else is an error.
func ParsePorts(s string) (PortSet, error) {
	var ps PortSet
	if strings.TrimSpace(s) == "" {
		return ps, fmt.Errorf("empty to-ports")
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			ps.all = true
			continue
		}
		if item == "" {
			return PortSet{}, fmt.Errorf("to-ports %q: empty item", s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parsePort(strings.TrimSpace(lo))
		if err != nil {
			return PortSet{}, fmt.Errorf("to-ports %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(strings.TrimSpace(hi)); err != nil {
				return PortSet{}, fmt.Errorf("to-ports %q: %w", s, err)
			}
			if b < a {
				return PortSet{}, fmt.Errorf("to-ports %q: range %s is reversed", s, item)
			}
		}
		ps.ranges = append(ps.ranges, portRange{a, b})
	}
	return ps, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing port number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a port number", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range 1-65535", s)
	}
	return uint16(n), nil
}

// All reports whether the set is "*" (possibly among other items).
func (ps PortSet) All() bool { return ps.all }

// Empty reports whether the set grants no port (the zero PortSet).
func (ps PortSet) Empty() bool { return !ps.all && len(ps.ranges) == 0 }

// Contains reports whether port is in the set. "*" contains every port
// 1–65535; see ContainsFrom for the limit that applies to policies served
// from ports ≥ 1024.
func (ps PortSet) Contains(port int) bool {
	if port < 1 || port > 65535 {
		return false
	}
	if ps.all {
		return true
	}
	for _, r := range ps.ranges {
		if int(r.lo) <= port && port <= int(r.hi) {
			return true
		}
	}
	return false
}

// ContainsFrom reports whether a policy served from servedPort grants port
// with this set. A policy served from a port ≥ 1024 can grant only ports
// ≥ 1024: the player ignores its grants of lower ports, and reads "*" as
// 1024–65535.
func (ps PortSet) ContainsFrom(servedPort, port int) bool {
	if servedPort >= 1024 && port < 1024 {
		return false
	}
	return ps.Contains(port)
}

// Privileged returns the explicitly listed ports below 1024 (not "*"), as
// written, e.g. ["80", "440-1030"]; nil when there are none.
func (ps PortSet) Privileged() []string {
	var out []string
	for _, r := range ps.ranges {
		if r.lo < 1024 {
			out = append(out, r.String())
		}
	}
	return out
}

// String renders the set canonically: "*", or the items in the order written.
func (ps PortSet) String() string {
	if ps.all {
		return "*"
	}
	parts := make([]string, len(ps.ranges))
	for i, r := range ps.ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (r portRange) String() string {
	if r.lo == r.hi {
		return strconv.Itoa(int(r.lo))
	}
	return strconv.Itoa(int(r.lo)) + "-" + strconv.Itoa(int(r.hi))
}

// portsContain reports whether the raw to-ports value s contains port,
// without allocating. An invalid value contains nothing.
func portsContain(s string, port int) bool {
	if port < 1 || port > 65535 {
		return false
	}
	found := false
	for last := false; !last; {
		var item string
		if i := strings.IndexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			item, last = s, true
		}
		item = strings.TrimSpace(item)
		if item == "*" {
			found = true
			continue
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parsePort(strings.TrimSpace(lo))
		if err != nil {
			return false
		}
		b := a
		if isRange {
			if b, err = parsePort(strings.TrimSpace(hi)); err != nil || b < a {
				return false
			}
		}
		if int(a) <= port && port <= int(b) {
			found = true
		}
	}
	return found
}
