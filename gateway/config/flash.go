package config

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/flashgate/flashgate/policyfile"
)

// loadPolicyFile parses and lints pc.File into pc.Policy. Lint errors are
// returned as error diagnostics, warnings as warning diagnostics; each points
// at its line and column in the policy file, with the policy block as
// context. The file is linted as a socket policy: that is how the gateway
// serves it (on policy requests, and as /crossdomain.xml).
//
// A file that is not a cross-domain-policy document (policyfile.Sniff) gets
// one diagnostic without a subject (the caller points it at the file
// attribute) that quotes nothing of the file.
//
// A site_control attribute in the block applies when the file has no
// site-control element; when both are given they must agree.
func loadPolicyFile(pc *Policy) hcl.Diagnostics {
	var diags hcl.Diagnostics
	def := pc.DefRange
	data, err := readPolicyFile(pc.File)
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("policy %q: cannot read the policy file", pc.Name),
			Detail:   err.Error(),
			Subject:  &def,
		}}
	}
	// A file that is not a policy at all (a wrong path, /etc/passwd, a
	// secret) is reported at the file attribute, without its content:
	// Lint's findings point into the file and show its line.
	if err := policyfile.Sniff(data); err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("policy %q: file %s: %v", pc.Name, pc.File, err),
		}}
	}
	for _, f := range policyfile.Lint(data, policyfile.LintOptions{Kind: policyfile.SocketKind}) {
		sev := hcl.DiagError
		if f.Severity == policyfile.Warning {
			sev = hcl.DiagWarning
		}
		rng := fileRange(pc.File, data, f.Line, f.Col)
		diags = append(diags, &hcl.Diagnostic{
			Severity: sev,
			Summary:  fmt.Sprintf("policy %q: %s", pc.Name, f.Msg),
			Subject:  &rng,
			Context:  &def,
		})
	}
	if diags.HasErrors() {
		return diags
	}
	p, err := policyfile.Parse(data)
	if err != nil { // Lint reports everything policyfile.Parse refuses; be safe anyway
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("policy %q: %v", pc.Name, err),
			Subject:  &def,
		})
	}
	switch {
	case p.SiteControl == policyfile.SiteControlUnset:
		p.SiteControl = pc.SiteControl
	case pc.SiteControl != "" && pc.SiteControl != p.SiteControl:
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary: fmt.Sprintf("policy %q: site_control = %q, but the file says permitted-cross-domain-policies=%q",
				pc.Name, pc.SiteControl, p.SiteControl),
			Detail:  "set site-control in one place only",
			Subject: &def,
		})
	default:
		pc.SiteControl = p.SiteControl
	}
	pc.Policy = p
	return diags
}

// readPolicyFile reads a policy file: a regular file, and no more than the
// player would accept plus one byte, so the linter can say it is too large
// and a FIFO or a device can never hang the loader.
func readPolicyFile(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks until a writer comes.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, policyfile.MaxSize+1))
}

// fileRange is the one-character range at line:col of a non-HCL file, with
// its byte offset, so diagnostics can show the line.
func fileRange(name string, data []byte, line, col int) hcl.Range {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	off = min(off+col-1, len(data))
	start := hcl.Pos{Line: line, Column: col, Byte: off}
	end := hcl.Pos{Line: line, Column: col + 1, Byte: min(off+1, len(data))}
	return hcl.Range{Filename: name, Start: start, End: end}
}

// validateFlashRules refuses configurations that Flash clients would silently
// reject, each with a message that names the Flash rule. It runs after
// references resolve.
//
// For every listener with a policy and a known port (port 0, as in tests,
// skips these rules):
//   - served from a port ≥ 1024, the policy may not grant ports below 1024
//     ("*" is fine: from such a port the player reads it as 1024–65535);
//   - below port 1024, the listener may not relay raw socket traffic (have a
//     backend): Flash clients do not connect there. Policy-only listeners
//     (the master policy server on 843) are exempt, and so are listeners
//     whose only backends are behind websocket blocks;
//   - with a backend, the policy must grant the listener's own port to some
//     domain, or no Flash client may connect.
//
// Listeners without a policy are transparent and exempt.
func validateFlashRules(cfg *Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, l := range cfg.Listeners {
		if l.Policy == "" {
			continue
		}
		pc := cfg.Policy(l.Policy)
		if pc == nil {
			continue // reported as an undefined reference
		}
		pol := policyOf(pc)
		port, ok := listenerPort(l.Address)
		if !ok || port == 0 || pol == nil {
			continue
		}
		rng := l.DefRange
		fail := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng, Context: &pc.DefRange,
			})
		}
		if port >= 1024 {
			for _, a := range pol.Allow {
				ps, err := policyfile.ParsePorts(a.ToPorts)
				if err != nil {
					continue // the policy's own validation reports it
				}
				if low := ps.Privileged(); len(low) > 0 {
					fail(fmt.Sprintf("listener %q serves policy %q from port %d, which grants ports below 1024 (%s)",
						l.Name, pc.Name, port, strings.Join(low, ",")),
						"Flash rule: a socket policy served from a port >= 1024 can only grant ports >= 1024; "+
							"the player ignores the rest. Grant ports below 1024 only from the master policy "+
							"(a policy-only listener on port 843), or remove them from this policy.")
					break
				}
			}
		}
		if l.Backend == "" {
			continue // policy only, or WebSocket only
		}
		if port < 1024 {
			fail(fmt.Sprintf("listener %q relays socket traffic on port %d, below 1024, and serves Flash clients (policy %q)",
				l.Name, port, pc.Name),
				"Flash rule: Flash clients are not to connect to ports below 1024 through this gateway. "+
					"Move the listener to a port >= 1024, or drop its policy to make it a transparent relay.")
			continue
		}
		granted := false
		for _, a := range pol.Allow {
			if ps, err := policyfile.ParsePorts(a.ToPorts); err == nil && ps.ContainsFrom(port, port) {
				granted = true
				break
			}
		}
		if !granted {
			fail(fmt.Sprintf("listener %q on port %d: its policy %q does not grant port %d", l.Name, port, pc.Name, port),
				"Flash rule: the player connects only to ports its socket policy grants in to-ports; "+
					"add the port to an allow block's ports (or use \"*\").")
		}
	}
	return diags
}

// checkPolicySize refuses a policy whose XML, as the gateway serves it
// (policyfile.Policy.Generate, also for a policy read from a file), is
// policyfile.MaxSize bytes or more: the player refuses such a policy, and a
// policy file of that size is refused already. It reports at the policy
// block.
func checkPolicySize(pc *Policy) hcl.Diagnostics {
	if pc.Policy == nil {
		return nil
	}
	n := len(pc.Policy.Generate())
	if n < policyfile.MaxSize {
		return nil
	}
	def := pc.DefRange
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary: fmt.Sprintf("policy %q is %d bytes of XML as served, over the limit: the player refuses policies of %d bytes or more",
			pc.Name, n, policyfile.MaxSize),
		Detail: "Flash rule: the player (and Adobe's sample policy servers) refuse a policy that large. " +
			"Fewer allow blocks cover as much: a ports list or range (\"9000-9010,9443\"), or a domain wildcard (\"*.example.com\").",
		Subject: &def,
	}}
}

// policyOf returns the policy a policy block serves.
func policyOf(pc *Policy) *policyfile.Policy {
	if pc.Policy != nil {
		return pc.Policy
	}
	if pc.File != "" {
		return nil // not loaded: its errors are reported already
	}
	p := &policyfile.Policy{SiteControl: pc.SiteControl}
	for _, a := range pc.Allow {
		p.Allow = append(p.Allow, policyfile.Allow{Domain: a.Domain, ToPorts: a.Ports, Secure: a.Secure})
	}
	return p
}

// listenerPort returns the port of a host:port address.
func listenerPort(addr string) (int, bool) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return 0, false
	}
	return n, true
}
