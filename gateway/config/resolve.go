package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Checks that span blocks, run once all blocks are read: references between
// blocks, addresses used twice, and the service names of backend ports.

// serviceRef is a backend address whose port is a service name, resolved
// to its number once all blocks are read and the backend's uses are known.
type serviceRef struct {
	backend *Backend
	index   int // in backend.Address
	rng     hcl.Range
}

// blockRef is a reference to a named block, resolved once all blocks are read.
type blockRef struct {
	kind  string // "policy" or "backend"
	name  string
	owner string // e.g. `listener "chat"`
	rng   hcl.Range
}

// resolve checks references between blocks and the rules that span blocks.
func (d *decoder) resolve(cfg *Config) {
	for _, r := range d.refs {
		var found bool
		switch r.kind {
		case "policy":
			found = cfg.Policy(r.name) != nil
		case "backend":
			found = cfg.Backend(r.name) != nil
		}
		if !found {
			d.errorf(r.rng, fmt.Sprintf("%s refers to %s %q, which is not defined", r.owner, r.kind, r.name),
				"undefined %s %q", r.kind, r.name)
		}
	}
	d.resolveServices(cfg)
	usesACME := false
	for _, l := range cfg.Listeners {
		if l.TLS != nil && len(l.TLS.ACME) > 0 {
			usesACME = true
		}
	}
	if usesACME && cfg.ACME == nil {
		for _, l := range cfg.Listeners {
			if l.TLS != nil && len(l.TLS.ACME) > 0 {
				d.errorf(l.DefRange, "a tls block with acme names needs a top-level acme block", "listener %q uses ACME but there is no acme block", l.Name)
			}
		}
	}
	seen := map[string]string{}
	for _, l := range cfg.Listeners {
		if l.Address == "" || strings.HasSuffix(l.Address, ":0") {
			continue
		}
		if other, ok := seen[l.Address]; ok {
			d.errorf(l.DefRange, "", "listener %q: address %q is already used by listener %q", l.Name, l.Address, other)
			continue
		}
		seen[l.Address] = l.Name
	}
	seen = map[string]string{}
	for _, u := range cfg.UDP {
		if u.Address == "" || strings.HasSuffix(u.Address, ":0") {
			continue
		}
		if other, ok := seen[u.Address]; ok {
			d.errorf(u.DefRange, "", "udp %q: address %q is already used by udp %q", u.Name, u.Address, other)
			continue
		}
		seen[u.Address] = u.Name
	}
}

// resolveServices replaces the service-name ports of backend addresses with
// their numbers. A backend used by listeners is looked up as tcp, one used
// by udp blocks as udp; one used by both must get the same port from each.
func (d *decoder) resolveServices(cfg *Config) {
	if len(d.services) == 0 {
		return
	}
	uses := map[string]map[string]bool{} // backend name → networks
	use := func(backend, network string) {
		if backend == "" {
			return
		}
		if uses[backend] == nil {
			uses[backend] = map[string]bool{}
		}
		uses[backend][network] = true
	}
	for _, l := range cfg.Listeners {
		use(l.Backend, "tcp")
		for _, ws := range l.WebSockets {
			use(ws.Backend, "tcp")
		}
	}
	for _, u := range cfg.UDP {
		use(u.Backend, "udp")
	}
	for _, s := range d.services {
		addr := s.backend.Address[s.index]
		host, service, _ := net.SplitHostPort(addr)
		networks := []string{"tcp"}
		if n := uses[s.backend.Name]; n["udp"] && !n["tcp"] {
			networks = []string{"udp"}
		} else if n["udp"] {
			networks = []string{"tcp", "udp"}
		}
		if port, ok := d.servicePort(s, addr, service, networks); ok {
			s.backend.Address[s.index] = net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
}

// servicePort looks service up for each of networks; it reports a
// diagnostic at the address attribute and false when one lookup fails or
// they disagree.
func (d *decoder) servicePort(s serviceRef, addr, service string, networks []string) (int, bool) {
	port := 0
	for _, network := range networks {
		p, err := net.LookupPort(network, service)
		switch {
		case err != nil:
			d.errorf(s.rng, "a port is a number or a service name the system knows (as in /etc/services)",
				"invalid address %q: unknown %s service %q", addr, network, service)
			return 0, false
		case p <= 0 || p > 65535:
			d.errorf(s.rng, "", "invalid address %q: service %q is port %d", addr, service, p)
			return 0, false
		case port != 0 && p != port:
			d.errorf(s.rng, fmt.Sprintf("backend %q is used by listeners (tcp) and udp blocks", s.backend.Name),
				"invalid address %q: service %q is tcp port %d but udp port %d", addr, service, port, p)
			return 0, false
		}
		port = p
	}
	return port, true
}
