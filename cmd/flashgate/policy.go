package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/policyfile"
)

// cmdPolicy implements "flashgate policy show|lint|check".
func cmdPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage())
		return 2
	}
	switch args[0] {
	case "show":
		return cmdPolicyShow(args[1:], stdout, stderr)
	case "lint":
		return cmdPolicyLint(args[1:], stdout, stderr)
	case "check":
		return cmdPolicyCheck(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, policyUsage())
		return 0
	}
	fmt.Fprintf(stderr, "flashgate policy: unknown subcommand %q%s\n\n%s", args[0], didYouMean(args[0], []string{"show", "lint", "check"}), policyUsage())
	return 2
}

// cmdPolicyShow prints the socket policies of a config exactly as they are
// served, without the trailing NUL of the wire.
func cmdPolicyShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy show", stderr)
	cfgPath := fs.String("config", "config.hcl", "config `FILE`")
	name := fs.String("name", "", "show only the policy named `POLICY`")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return fs.unexpected(pos[0])
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *name != "" {
		pc := cfg.Policy(*name)
		if pc == nil || pc.Policy == nil {
			fmt.Fprintf(stderr, "flashgate policy show: %s has no policy %q\n", *cfgPath, *name)
			return 1
		}
		_, _ = stdout.Write(pc.Policy.Generate())
		return 0
	}
	served := cfg.Policies[:0:0] // those with a socket policy
	for _, pc := range cfg.Policies {
		if pc.Policy != nil {
			served = append(served, pc)
		}
	}
	if len(served) == 1 {
		// One policy: exactly the bytes served, so the output lints clean.
		_, _ = stdout.Write(served[0].Policy.Generate())
		return 0
	}
	for _, pc := range served {
		fmt.Fprintf(stdout, "<!-- policy %q -->\n", pc.Name)
		_, _ = stdout.Write(pc.Policy.Generate())
	}
	return 0
}

// cmdPolicyLint lints a crossdomain.xml: one line per finding, exit 1 when
// any is an error.
func cmdPolicyLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy lint", stderr)
	port := fs.Int("port", 0, "the policy is a socket policy served from port `N` (843: the master policy)")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		return fs.usageError("want one FILE")
	}
	file := pos[0]
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate policy lint: %v\n", err)
		return 1
	}
	code := 0
	for _, f := range policyfile.Lint(data, policyfile.LintOptions{ServedPort: *port}) {
		fmt.Fprintf(stdout, "%s:%d:%d: %s: %s\n", file, f.Line, f.Col, f.Severity, f.Msg)
		if f.Severity == policyfile.Error {
			code = 1
		}
	}
	return code
}

// cmdPolicyCheck answers whether a SWF from a domain may connect to a port,
// with FILE served as the master policy on port 843.
func cmdPolicyCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy check", stderr)
	domain := fs.String("domain", "", "the SWF's `DOMAIN` (host name or IP address; empty: no Origin)")
	port := fs.Int("port", 0, "the destination `PORT`")
	secure := fs.Bool("secure", false, "the SWF was served over HTTPS")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(pos) != 1:
		return fs.usageError("want one FILE, the policy to check")
	case !portSet(fs.FlagSet):
		return fs.usageError("missing -port P: the port the SWF connects to")
	case *port < 1 || *port > 65535:
		return fs.usageError(fmt.Sprintf("-port %d: want 1 to 65535", *port))
	}
	file := pos[0]
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate policy check: %v\n", err)
		return 1
	}
	p, err := policyfile.Parse(data)
	if err != nil {
		var pe *policyfile.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintf(stdout, "deny %s:%d:%d: the player rejects this policy file: %s\n", file, pe.Line, pe.Col, pe.Msg)
		} else {
			fmt.Fprintf(stdout, "deny the player rejects this policy file: %v\n", err)
		}
		return 1
	}
	d := policyfile.EvaluateSocket(p, nil, *domain, *port, *secure)
	fmt.Fprintln(stdout, d)
	if d.Allowed {
		return 0
	}
	return 1
}

// portSet reports whether -port was given.
func portSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "port" })
	return set
}
