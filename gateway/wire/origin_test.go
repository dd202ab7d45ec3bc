package wire

import (
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// lookup is the IDNA conversion package gateway passes in.
var lookup IDNA = idna.Lookup.ToASCII

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
		{"wss://games.example.com", "games.example.com", true},
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
		{"http://a..example.com", "", false},
		{"file://", "", false},
	}
	for _, tt := range tests {
		host, secure := OriginHost(tt.origin, lookup)
		if host != tt.host || secure != tt.secure {
			t.Errorf("OriginHost(%q) = %q, %v; want %q, %v", tt.origin, host, secure, tt.host, tt.secure)
		}
	}
	// Without an IDNA conversion a non-ASCII host is refused, not passed on.
	if host, _ := OriginHost("http://bücher.example", nil); host != "" {
		t.Errorf("no IDNA: host %q", host)
	}
	if host, _ := OriginHost("http://Games.Example.COM", nil); host != "games.example.com" {
		t.Errorf("no IDNA, ASCII host: %q", host)
	}
}

// FuzzOriginHost: Origin normalisation never panics and yields a canonical
// host (lower case ASCII, no trailing dot, no port, no brackets, stable
// under a second normalisation); secure only for an https or wss scheme.
// The policy side is FuzzOrigin in package gateway.
func FuzzOriginHost(f *testing.F) {
	for _, o := range []string{"", "null", "http://Games.Example.COM.", "https://[::ffff:127.0.0.1]:8443",
		"http://bücher.example", "http://evil.com@good.example.com", "http://example.com.evil.org"} {
		f.Add(o)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		host, secure := OriginHost(origin, lookup)
		if plain, _ := OriginHost(origin, nil); plain != host && plain != "" {
			t.Fatalf("origin %q: %q with IDNA, %q without", origin, host, plain)
		}
		if host == "" {
			return
		}
		o := strings.ToLower(strings.TrimSpace(origin))
		if secure && !strings.HasPrefix(o, "https:") && !strings.HasPrefix(o, "wss:") {
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
		if again := NormalizeHost(host, lookup); again != host && !strings.Contains(host, ":") {
			t.Fatalf("origin %q: host %q normalises again to %q", origin, host, again)
		}
	})
}
