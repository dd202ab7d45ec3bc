package gateway

import (
	"strings"
	"testing"

	"github.com/flashgate/flashgate/policyfile"
)

// FuzzOrigin: Origin normalisation never panics and yields a canonical host
// (lower case ASCII, no trailing dot, no port, no brackets, stable under a
// second normalisation); a policy naming exactly that host grants it, and a
// "*.example.com" rule grants only example.com and its subdomains. The seed
// corpus is in testdata/fuzz/FuzzOrigin.
func FuzzOrigin(f *testing.F) {
	for _, o := range []string{"", "null", "http://Games.Example.COM.", "https://[::ffff:127.0.0.1]:8443",
		"http://bücher.example", "http://evil.com@good.example.com", "http://example.com.evil.org"} {
		f.Add(o)
	}
	wild := &policyfile.Policy{Allow: []policyfile.Allow{{Domain: "*.example.com", ToPorts: "*"}}}
	f.Fuzz(func(t *testing.T, origin string) {
		host, secure := originHost(origin)
		if host == "" {
			if _, d := checkOrigin(wild, origin, 9000); d.Allowed {
				t.Fatalf("origin %q without a host allowed by *.example.com: %v", origin, d)
			}
			return
		}
		if secure && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(origin)), "http") &&
			!strings.HasPrefix(strings.ToLower(strings.TrimSpace(origin)), "ws") {
			t.Fatalf("origin %q: secure without an https/wss scheme", origin)
		}
		for i := 0; i < len(host); i++ {
			if c := host[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
				t.Fatalf("origin %q: host %q is not lower-case ASCII", origin, host)
			}
		}
		if strings.HasSuffix(host, ".") || strings.ContainsAny(host, "[]/@ ") {
			t.Fatalf("origin %q: host %q not canonical", origin, host)
		}
		if again := normalizeHost(host); again != host && !strings.Contains(host, ":") {
			t.Fatalf("origin %q: host %q normalises again to %q", origin, host, again)
		}
		exact := &policyfile.Policy{Allow: []policyfile.Allow{{Domain: host, ToPorts: "9000"}}}
		if _, d := checkOrigin(exact, origin, 9000); !d.Allowed {
			t.Fatalf("origin %q (host %q) refused by a policy naming that host: %v", origin, host, d)
		}
		if _, d := checkOrigin(exact, origin, 9001); d.Allowed {
			t.Fatalf("origin %q allowed on a port the policy does not grant: %v", origin, d)
		}
		if _, d := checkOrigin(wild, origin, 9000); d.Allowed && host != "example.com" && !strings.HasSuffix(host, ".example.com") {
			t.Fatalf("origin %q (host %q) allowed by *.example.com", origin, host)
		}
	})
}
