package policyfile

import (
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in       string
		want     string // canonical, or "" for an error
		in1, out int    // a port in the set and one outside it (0: skip)
	}{
		{"507", "507", 507, 508},
		{"507,516", "507,516", 516, 510},
		{"516-523", "516-523", 520, 524},
		{"507,516-523", "507,516-523", 523, 515},
		{"*", "*", 1, 0},
		{" 80 , 443 ", "80,443", 443, 8080},
		{"9000-9000", "9000", 9000, 9001},
		{"1-65535", "1-65535", 65535, 0},
		{"80,*", "*", 22, 0},
		{"", "", 0, 0},
		{"80,", "", 0, 0},
		{",80", "", 0, 0},
		{"80-", "", 0, 0},
		{"-80", "", 0, 0},
		{"90-80", "", 0, 0},
		{"0", "", 0, 0},
		{"65536", "", 0, 0},
		{"+80", "", 0, 0},
		{"80 443", "", 0, 0},
		{"1-2-3", "", 0, 0},
		{"http", "", 0, 0},
	}
	for _, tt := range tests {
		ps, err := ParsePorts(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParsePorts(%q) = %v, want an error", tt.in, ps)
			}
			if portsContain(tt.in, 80) {
				t.Errorf("portsContain(%q, 80) on an invalid value", tt.in)
			}
			continue
		}
		if err != nil || ps.String() != tt.want {
			t.Errorf("ParsePorts(%q) = %q, %v, want %q", tt.in, ps, err, tt.want)
			continue
		}
		if tt.in1 != 0 && (!ps.Contains(tt.in1) || !portsContain(tt.in, tt.in1)) {
			t.Errorf("%q does not contain %d", tt.in, tt.in1)
		}
		if tt.out != 0 && (ps.Contains(tt.out) || portsContain(tt.in, tt.out)) {
			t.Errorf("%q contains %d", tt.in, tt.out)
		}
	}
	ps, _ := ParsePorts("*")
	if ps.ContainsFrom(9000, 80) || !ps.ContainsFrom(9000, 1024) || !ps.ContainsFrom(843, 80) {
		t.Errorf("ContainsFrom: * from 9000 must read as 1024-65535")
	}
	ps, _ = ParsePorts("80,443-1030,9000")
	if got := strings.Join(ps.Privileged(), ","); got != "80,443-1030" {
		t.Errorf("Privileged = %q", got)
	}
}

func TestDomainMatching(t *testing.T) {
	tests := []struct {
		pattern, domain string
		want            bool
	}{
		{"*", "anything.example", true},
		{"*", "10.0.0.1", true},
		{"*", "", true},
		{"www.example.com", "www.example.com", true},
		{"www.example.com", "WWW.Example.COM", true},
		{"www.example.com.", "www.example.com", true},
		{"www.example.com", "www.example.com.", true},
		{"www.example.com", "example.com", false},
		{"example.com", "www.example.com", false},
		{"www.example.com", "", false},
		{"*.example.com", "example.com", true},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.b.EXAMPLE.com", true},
		{"*.example.com", "badexample.com", false},
		{"*.example.com", "example.com.evil.org", false},
		{"*.example.com", "www.example.com.", true},
		{"*.example.com", "", false},
		{"*.foo.com", "foo.com", true}, // "foo.com is considered to be part of *.foo.com"
		{"*example.com", "www.example.com", false},
		{"www.*.com", "www.example.com", false},
		{"*.", "example", false},
		{"105.216.0.40", "105.216.0.40", true},
		{"105.216.0.40", "105.216.0.41", false},
		{"*.0.40", "105.216.0.40", false}, // no wildcards with IPs
		{"*.216.0.40", "105.216.0.40", false},
		{"localhost", "127.0.0.1", false}, // no DNS
		{"127.0.0.1", "localhost", false},
		{"2001:db8::1", "[2001:db8:0:0:0:0:0:1]", true},
		{"[2001:db8::1]", "2001:db8::1", true},
		{"[2001:db8:0:0:0:0:0:1]", "[2001:db8::1]", true},
		{"2001:db8::1", "2001:db8::2", false},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"bücher.example", "xn--bcher-kva.example", true},
		{"*.bücher.example", "www.xn--bcher-kva.example", true},
		{"xn--bcher-kva.example", "BÜCHER.example", true},
		{"bücher.example", "bucher.example", false},
		{"http://www.example.com", "www.example.com", false},
		{"www.example.com:80", "www.example.com", false},
	}
	for _, tt := range tests {
		r := newRequester(tt.domain)
		if got := r.matches(tt.pattern); got != tt.want {
			t.Errorf("pattern %q, domain %q: match = %v, want %v", tt.pattern, tt.domain, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	p, err := Parse([]byte(specSocketExample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		domain string
		port   int
		allow  bool
		rule   string
	}{
		{"anywhere.org", 507, true, `<allow-access-from domain="*" to-ports="507"/>`},
		{"anywhere.org", 516, false, `no allow-access-from rule grants domain "anywhere.org" port 516`},
		{"www.foo.com", 516, true, `domain="*.foo.com" to-ports="507,516"`},
		{"foo.com", 516, true, `domain="*.foo.com"`},
		{"www.foo.com", 520, true, `domain="www.foo.com" to-ports="507,516-523"`},
		{"x.bar.com", 523, true, `to-ports="516-523"`},
		{"www.bar.com", 65535, true, `to-ports="*"`},
		{"badfoo.com", 516, false, "no allow-access-from rule"},
		{"", 507, true, `domain="*"`},
		{"", 516, false, "empty domain"},
		{"www.foo.com", 0, false, "not a TCP port"},
	}
	for _, tt := range tests {
		d := p.Evaluate(tt.domain, tt.port, false)
		if d.Allowed != tt.allow || !strings.Contains(d.Rule, tt.rule) {
			t.Errorf("Evaluate(%q, %d) = %v, want allowed=%v with %q", tt.domain, tt.port, d, tt.allow, tt.rule)
		}
	}
}

func TestEvaluateSecureAndServedPort(t *testing.T) {
	p := &Policy{Allow: []Allow{
		{Domain: "secure.example", ToPorts: "9000", Secure: Bool(true)},
		{Domain: "plain.example", ToPorts: "9000", Secure: Bool(false)},
		{Domain: "absent.example", ToPorts: "80,9000"},
		{Domain: "noports.example"},
	}}
	tests := []struct {
		domain string
		port   int
		secure bool
		from   int
		allow  bool
		why    string
	}{
		{"secure.example", 9000, true, 843, true, ""},
		{"secure.example", 9000, false, 843, false, "only SWFs served over HTTPS"},
		{"plain.example", 9000, false, 843, true, ""},
		{"plain.example", 9000, true, 843, true, ""},
		{"absent.example", 9000, false, 843, true, ""}, // secure defaults to false in socket policies
		{"absent.example", 80, false, 843, true, ""},
		{"absent.example", 80, false, 9000, false, "cannot grant ports below 1024"},
		{"absent.example", 9000, false, 9000, true, ""},
		{"noports.example", 9000, false, 843, false, "no allow-access-from rule"},
	}
	for _, tt := range tests {
		d := p.EvaluateFrom(tt.from, tt.domain, tt.port, tt.secure)
		if d.Allowed != tt.allow || !strings.Contains(d.Rule, tt.why) {
			t.Errorf("EvaluateFrom(%d, %q, %d, %v) = %v, want %v %q", tt.from, tt.domain, tt.port, tt.secure, d, tt.allow, tt.why)
		}
	}
}

func TestEvaluateSocketMetaPolicy(t *testing.T) {
	grant := func(site string, domain string) *Policy {
		return &Policy{SiteControl: site, Allow: []Allow{{Domain: domain, ToPorts: "9000"}}}
	}
	dest := &Policy{Allow: []Allow{{Domain: "*", ToPorts: "9000"}}}
	tests := []struct {
		name         string
		master, dest *Policy
		allow        bool
		why          string
	}{
		{"no master, dest grants", nil, dest, true, "policy on port 9000"},
		{"no master, no dest", nil, nil, false, "no master policy"},
		{"master grants", grant(MasterOnly, "*"), nil, true, `domain="*"`},
		{"master none denies its own rules", grant(None, "*"), dest, false, `"none"`},
		{"master-only ignores dest", grant(MasterOnly, "other.example"), dest, false, `"master-only"`},
		{"all consults dest", grant(All, "other.example"), dest, true, "policy on port 9000"},
		{"unset is all", grant("", "other.example"), dest, true, "policy on port 9000"},
		{"by-content-type reads as all", grant(ByContentType, "other.example"), dest, true, "policy on port 9000"},
		{"dest site-control ignored", nil, &Policy{SiteControl: None, Allow: dest.Allow}, true, ""},
	}
	for _, tt := range tests {
		d := EvaluateSocket(tt.master, tt.dest, "www.example.com", 9000, false)
		if d.Allowed != tt.allow || !strings.Contains(d.Rule, tt.why) {
			t.Errorf("%s: %v, want %v %q", tt.name, d, tt.allow, tt.why)
		}
	}
	if got := (&Policy{SiteControl: "bogus"}).SocketMetaPolicy(); got != None {
		t.Errorf("unknown site-control reads as %q, want none", got)
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add("*.example.com", "9000-9010", "www.example.com", 9005)
	f.Add("2001:db8::1", "*", "[2001:db8:0:0:0:0:0:1]", 80)
	f.Add("bücher.example", "1,2,3", "xn--bcher-kva.example", 2)
	f.Fuzz(func(t *testing.T, pattern, ports, domain string, port int) {
		p := &Policy{Allow: []Allow{{Domain: pattern, ToPorts: ports}}}
		d := p.Evaluate(domain, port, true)
		ps, err := ParsePorts(ports)
		if d.Allowed && (err != nil || !ps.Contains(port)) {
			t.Fatalf("allowed port %d outside %q (%v)", port, ports, err)
		}
		if err == nil && ps.Contains(port) != portsContain(ports, port) {
			t.Fatalf("PortSet and portsContain disagree on %q %d", ports, port)
		}
		if strings.TrimSpace(pattern) == "*" && err == nil && ps.Contains(port) && !d.Allowed {
			t.Fatalf("* denied: %v", d)
		}
		if domain == "" && d.Allowed && strings.TrimSpace(pattern) != "*" {
			t.Fatalf("empty domain matched %q", pattern)
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	p := &Policy{SiteControl: MasterOnly, Allow: []Allow{
		{Domain: "*.foo.com", ToPorts: "507,516"},
		{Domain: "www.bar.com", ToPorts: "*"},
		{Domain: "10.1.2.3", ToPorts: "9000"},
		{Domain: "*.example.com", ToPorts: "9000-9010,9443"},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Evaluate("game.example.com", 9443, false).Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkEvaluateDeny(b *testing.B) {
	p := &Policy{Allow: []Allow{{Domain: "*.example.com", ToPorts: "9000-9010,9443"}}}
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate("evil.org", 9443, false).Allowed {
			b.Fatal("allowed")
		}
	}
}
