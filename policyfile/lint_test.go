package policyfile

import (
	"fmt"
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	doc := func(body string) string { return "<cross-domain-policy>\n" + body + "\n</cross-domain-policy>" }
	tests := []struct {
		name string
		doc  string
		opts LintOptions
		want []string // "LINE:COL: severity: substring", in order
	}{
		{"clean socket", doc(`<allow-access-from domain="*.example.com" to-ports="9000"/>`), LintOptions{}, nil},
		{"star to star", doc(`<allow-access-from domain="*" to-ports="*"/>`), LintOptions{},
			[]string{`2:1: warning: domain="*" with to-ports="*"`}},
		{"url-only in socket", doc(`<site-control permitted-cross-domain-policies="by-content-type"/>
<allow-access-from domain="a.example" to-ports="9000"/>
<allow-http-request-headers-from domain="*" headers="X-A"/>`), LintOptions{Kind: SocketKind},
			[]string{"2:1: warning: site-control \"by-content-type\" applies to URL policies only",
				"4:1: warning: allow-http-request-headers-from applies to URL policies only"}},
		{"missing to-ports in socket", doc(`<allow-access-from domain="a.example"/>`), LintOptions{Kind: SocketKind},
			[]string{"2:1: error: allow-access-from domain=\"a.example\" has no to-ports"}},
		{"missing to-ports in url", doc(`<allow-access-from domain="a.example"/>`), LintOptions{}, nil},
		{"to-ports in url", doc(`<allow-access-from domain="a.example" to-ports="80"/>`), LintOptions{Kind: URLKind},
			[]string{"2:1: warning: to-ports applies to socket policies only"}},
		{"star in url", doc(`<allow-access-from domain="*"/>`), LintOptions{},
			[]string{`2:1: warning: domain="*" lets SWFs from any site read`}},
		{"duplicates", doc(`<allow-access-from domain="A.example." to-ports="80, 443"/>
<allow-access-from domain="a.example" to-ports="80,443"/>`), LintOptions{},
			[]string{"3:1: warning: duplicate rule: same as line 2"}},
		{"privileged from game port", doc(`<allow-access-from domain="a.example" to-ports="80,9000"/>
<allow-access-from domain="b.example" to-ports="*"/>`), LintOptions{ServedPort: 9000},
			[]string{"2:1: warning: ports below 1024 (80) granted by a policy served from port 9000"}},
		{"privileged from master", doc(`<allow-access-from domain="a.example" to-ports="80"/>`), LintOptions{ServedPort: 843}, nil},
		{"site-control off master", doc(`<site-control permitted-cross-domain-policies="master-only"/>
<allow-access-from domain="a.example" to-ports="9000"/>`), LintOptions{ServedPort: 9000},
			[]string{"2:1: warning: site-control is honoured only in the master policy"}},
		{"unknown element and attribute", doc(`<allow-access-from domain="a.example" to-ports="1" colour="red"/>
<deny-access-from domain="b.example"/>`), LintOptions{},
			[]string{"2:1: warning: unknown attribute colour", "3:1: warning: unknown element <deny-access-from>"}},
		{"bad domains", doc(`<allow-access-from domain="http://a.example" to-ports="1"/>
<allow-access-from domain="*a.example" to-ports="1"/>
<allow-access-from domain="*.10.0.0.1" to-ports="1"/>
<allow-access-from domain="" to-ports="1"/>
<allow-access-from domain="a.example:80" to-ports="1"/>`), LintOptions{},
			[]string{"2:1: error: domain \"http://a.example\": domain must be a host name, not a URL",
				"3:1: error: domain \"*a.example\": a wildcard must be",
				"4:1: error: domain \"*.10.0.0.1\": wildcards do not apply to IP addresses",
				"5:1: error: domain \"\": empty domain",
				"6:1: error: domain \"a.example:80\": domain must be a host name or an IP address without a port"}},
		{"all errors, not the first", doc(`<allow-access-from domain="a" to-ports="x"/>
<allow-access-from domain="b" to-ports="1" secure="1"/>
<site-control permitted-cross-domain-policies="any"/>`), LintOptions{},
			[]string{"2:1: error: to-ports \"x\"", "3:1: error: secure=\"1\"", "4:1: error: unknown permitted-cross-domain-policies value \"any\""}},
		{"namespace", `<cross-domain-policy xmlns="urn:x"/>`, LintOptions{},
			[]string{"1:1: error: element <cross-domain-policy> is namespace-qualified"}},
		{"xml declaration late", "\n<?xml version=\"1.0\"?><cross-domain-policy/>", LintOptions{},
			[]string{"2:1: warning: the XML declaration is not at the very start"}},
		{"size", "<cross-domain-policy>" + strings.Repeat("\n", MaxSize) + "</cross-domain-policy>", LintOptions{},
			[]string{"1:1: error: policy file is 10043 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lint([]byte(tt.doc), tt.opts)
			if len(got) != len(tt.want) {
				t.Fatalf("Lint = %v\nwant %v", got, tt.want)
			}
			for i, f := range got {
				if !strings.HasPrefix(f.String(), tt.want[i]) {
					t.Errorf("finding %d = %q, want prefix %q", i, f, tt.want[i])
				}
			}
		})
	}
}

func ExampleLint() {
	doc := `<cross-domain-policy>
  <allow-access-from domain="*" to-ports="*"/>
  <allow-access-from domain="*.example.com"/>
</cross-domain-policy>`
	for _, f := range Lint([]byte(doc), LintOptions{Kind: SocketKind}) {
		fmt.Println(f)
	}
	// Output:
	// 2:3: warning: domain="*" with to-ports="*" lets a SWF from any site connect to every port
	// 3:3: error: allow-access-from domain="*.example.com" has no to-ports: a socket policy must name the ports it grants (the player ignores this rule)
}
