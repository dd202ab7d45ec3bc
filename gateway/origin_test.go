package gateway

import (
	"testing"

	"github.com/flashgate/flashgate/policyfile"
)

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
