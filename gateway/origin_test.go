package gateway

import (
	"testing"

	"github.com/flashgate/flashgate/policyfile"
)

func TestOriginHost(t *testing.T) {
	tests := []struct {
		origin string
		host   string
		secure bool
	}{
		{"", "", false},
		{"null", "", false},
		{"NULL", "", false},
		{"http://Games.Example.COM", "games.example.com", false},
		{"https://games.example.com.", "games.example.com", true},
		{"http://games.example.com.:8080", "games.example.com", false},
		{"http://games.example.com:443", "games.example.com", false},
		{"http://127.0.0.1:8080", "127.0.0.1", false},
		{"http://[::1]:8080", "::1", false},
		{"http://[2001:DB8:0:0:0:0:0:1]", "2001:db8::1", false},
		{"http://[::ffff:127.0.0.1]", "127.0.0.1", false},
		{"http://bücher.example", "xn--bcher-kva.example", false},
		{"http://BÜCHER.example", "xn--bcher-kva.example", false},
		{"http://xn--bcher-kva.example", "xn--bcher-kva.example", false},
		{"http://evil.com@good.example.com", "", false},
		{"http://[::1", "", false},
		{"games.example.com", "", false},
		{"http://*.example.com", "", false},
		{"file://", "", false},
	}
	for _, tt := range tests {
		host, secure := originHost(tt.origin)
		if host != tt.host || secure != tt.secure {
			t.Errorf("originHost(%q) = %q, %v; want %q, %v", tt.origin, host, secure, tt.host, tt.secure)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	p := &policyfile.Policy{Allow: []policyfile.Allow{
		{Domain: "*.example.com", ToPorts: "8080"},
		{Domain: "127.0.0.1", ToPorts: "8080"},
		{Domain: "bücher.example", ToPorts: "8080"},
		{Domain: "secure.example.org", ToPorts: "8080", Secure: policyfile.Bool(true)},
	}}
	tests := []struct {
		origin string
		port   int
		allow  bool
	}{
		{"http://GAMES.EXAMPLE.COM.", 8080, true},
		{"http://example.com:9999", 8080, true}, // the Origin's port is not the destination
		{"http://games.example.com", 8081, false},
		{"http://example.com.evil.org", 8080, false},
		{"http://badexample.com", 8080, false},
		{"http://127.0.0.1:3000", 8080, true},
		{"http://[::ffff:127.0.0.1]", 8080, true},
		{"http://localhost", 8080, false},
		{"http://xn--bcher-kva.example", 8080, true},
		{"http://secure.example.org", 8080, false},
		{"https://secure.example.org", 8080, true},
		{"", 8080, false},
		{"null", 8080, false},
	}
	for _, tt := range tests {
		_, d := checkOrigin(p, tt.origin, tt.port)
		if d.Allowed != tt.allow {
			t.Errorf("checkOrigin(%q, %d) = %v, want allowed=%v", tt.origin, tt.port, d, tt.allow)
		}
	}
	star := &policyfile.Policy{Allow: []policyfile.Allow{{Domain: "*", ToPorts: "*"}}}
	for _, o := range []string{"", "null", "http://anything"} {
		if _, d := checkOrigin(star, o, 8080); !d.Allowed {
			t.Errorf("domain=\"*\" refused origin %q: %v", o, d)
		}
	}
}
