package policyfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The XMLSocket example of Macromedia's "System.security.loadPolicyFile()"
// reference, the ancestor of every socket policy.
const specSocketExample = `<cross-domain-policy>
<allow-access-from domain="*" to-ports="507" />
<allow-access-from domain="*.foo.com" to-ports="507,516" />
<allow-access-from domain="*.bar.com" to-ports="516-523" />
<allow-access-from domain="www.foo.com" to-ports="507,516-523" />
<allow-access-from domain="www.bar.com" to-ports="*" />
</cross-domain-policy>`

// The URL policy example of the same guide ("Flash Player security features").
const specURLExample = `<?xml version="1.0"?>
<!-- http://www.foo.com/crossdomain.xml -->
<cross-domain-policy>
<allow-access-from domain="www.friendOfFoo.com" />
<allow-access-from domain="*.foo.com" />
<allow-access-from domain="105.216.0.40" />
</cross-domain-policy>`

// Adobe's socket policy with a schema reference (PolicyFileSocket.xsd).
const specSchemaExample = `<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">
<cross-domain-policy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.adobe.com/xml/schemas/PolicyFileSocket.xsd">
  <site-control permitted-cross-domain-policies="master-only"/>
  <allow-access-from domain="*.example.com" to-ports="9000-9010,9443" secure="true"/>
  <allow-access-from-identity>
    <signatory>
      <certificate fingerprint="01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67" fingerprint-algorithm="sha-1"/>
    </signatory>
  </allow-access-from-identity>
  <allow-http-request-headers-from domain="*.example.com" headers="SOAPAction, X-Foo*"/>
</cross-domain-policy>`

func TestParseSpecExamples(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Policy
	}{
		{"socket", specSocketExample, Policy{Allow: []Allow{
			{Domain: "*", ToPorts: "507"},
			{Domain: "*.foo.com", ToPorts: "507,516"},
			{Domain: "*.bar.com", ToPorts: "516-523"},
			{Domain: "www.foo.com", ToPorts: "507,516-523"},
			{Domain: "www.bar.com", ToPorts: "*"},
		}}},
		{"url", specURLExample, Policy{Allow: []Allow{
			{Domain: "www.friendOfFoo.com"}, {Domain: "*.foo.com"}, {Domain: "105.216.0.40"},
		}}},
		{"schema", specSchemaExample, Policy{
			SiteControl: MasterOnly,
			Allow:       []Allow{{Domain: "*.example.com", ToPorts: "9000-9010,9443", Secure: Bool(true)}},
			Identities: []Identity{{
				Fingerprint:          "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67",
				FingerprintAlgorithm: "sha-1",
			}},
			Headers: []AllowHeaders{{Domain: "*.example.com", Headers: "SOAPAction, X-Foo*"}},
		}},
		{"lightsphere", "<cross-domain-policy>\n     <allow-access-from domain=\"*\" to-ports=\"*\" />\n</cross-domain-policy>",
			Policy{Allow: []Allow{{Domain: "*", ToPorts: "*"}}}},
		{"empty", "<cross-domain-policy/>", Policy{}},
		{"bom and latin1", "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><cross-domain-policy><allow-access-from domain=\"b\xFCcher.example\" to-ports=\"80\"/></cross-domain-policy>",
			Policy{Allow: []Allow{{Domain: "bücher.example", ToPorts: "80"}}}},
		{"unknown element skipped", `<cross-domain-policy><foo bar="1"><baz/></foo><allow-access-from domain="a" to-ports="1" x="y"/></cross-domain-policy>`,
			Policy{Allow: []Allow{{Domain: "a", ToPorts: "1"}}}},
		{"entities", `<cross-domain-policy><allow-access-from domain="a&amp;b&#46;c" to-ports="1"/></cross-domain-policy>`,
			Policy{Allow: []Allow{{Domain: "a&b.c", ToPorts: "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*p, tt.want) {
				t.Fatalf("Parse = %+v\nwant     %+v", *p, tt.want)
			}
			roundTrip(t, p)
		})
	}
}

func roundTrip(t *testing.T, p *Policy) {
	t.Helper()
	out := p.Generate()
	q, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Generate(p)): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip changed the policy:\n%+v\n%+v\n%s", p, q, out)
	}
	if fs := Lint(out, LintOptions{}); hasError(fs) {
		t.Fatalf("Lint(Generate(p)) has errors: %v", fs)
	}
}

func hasError(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

func TestParseErrors(t *testing.T) {
	big := "<cross-domain-policy>" + strings.Repeat(" ", MaxSize) + "</cross-domain-policy>"
	tests := []struct {
		name      string
		doc       string
		line, col int
		msg       string
	}{
		{"too large", big, 1, 1, "10000 bytes or more"},
		{"default namespace", `<cross-domain-policy xmlns="http://www.adobe.com/xml/schemas/PolicyFile.xsd"/>`, 1, 1, "namespace-qualified"},
		{"prefixed root", `<p:cross-domain-policy xmlns:p="urn:x"/>`, 1, 1, "namespace-qualified"},
		{"prefixed child", "<cross-domain-policy xmlns:p=\"urn:x\">\n  <p:allow-access-from domain=\"*\"/></cross-domain-policy>", 2, 3, "namespace-qualified"},
		{"entity declaration", "<?xml version=\"1.0\"?>\n<!DOCTYPE cross-domain-policy [<!ENTITY x \"y\">]>\n<cross-domain-policy/>", 2, 1, "declares entities"},
		{"external entity", "<!DOCTYPE cross-domain-policy [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><cross-domain-policy><allow-access-from domain=\"&xxe;\"/></cross-domain-policy>", 1, 1, "declares entities"},
		{"undeclared entity", `<cross-domain-policy><allow-access-from domain="&xxe;"/></cross-domain-policy>`, 1, 54, "invalid character entity"},
		{"attlist", `<!DOCTYPE cross-domain-policy [<!ATTLIST allow-access-from secure CDATA "true">]><cross-domain-policy/>`, 1, 1, "attribute defaults"},
		{"wrong root", "<?xml version=\"1.0\"?>\n<access-policy/>", 2, 1, "root element is <access-policy>"},
		{"no root", `<?xml version="1.0"?>`, 1, 22, "no cross-domain-policy element"},
		{"text before root", `hello <cross-domain-policy/>`, 1, 1, "text before"},
		{"second root", "<cross-domain-policy/>\n<cross-domain-policy/>", 2, 1, "after the cross-domain-policy element"},
		{"unclosed", "<cross-domain-policy>\n<allow-access-from domain=\"*\">\n", 3, 1, "not well-formed"},
		{"bad to-ports", "<cross-domain-policy>\n  <allow-access-from domain=\"*\" to-ports=\"80-\"/>\n</cross-domain-policy>", 2, 3, `to-ports "80-"`},
		{"port zero", `<cross-domain-policy><allow-access-from domain="*" to-ports="0"/></cross-domain-policy>`, 1, 22, "out of range"},
		{"bad secure", `<cross-domain-policy><allow-access-from domain="*" to-ports="1" secure="yes"/></cross-domain-policy>`, 1, 22, `secure="yes"`},
		{"no domain", `<cross-domain-policy><allow-access-from to-ports="1"/></cross-domain-policy>`, 1, 22, "without a domain"},
		{"unknown site-control", `<cross-domain-policy><site-control permitted-cross-domain-policies="some"/></cross-domain-policy>`, 1, 22, "unknown permitted-cross-domain-policies"},
		{"two site-controls", "<cross-domain-policy>\n<site-control permitted-cross-domain-policies=\"all\"/>\n<site-control permitted-cross-domain-policies=\"none\"/></cross-domain-policy>", 3, 1, "more than one"},
		{"duplicate attribute", `<cross-domain-policy><allow-access-from domain="a" domain="b"/></cross-domain-policy>`, 1, 22, "duplicate attribute"},
		{"headers without headers", `<cross-domain-policy><allow-http-request-headers-from domain="*"/></cross-domain-policy>`, 1, 22, "without headers"},
		{"unsupported encoding", `<?xml version="1.0" encoding="Shift_JIS"?><cross-domain-policy/>`, 1, 43, "Shift_JIS"},
		{"element directive", `<!ELEMENT x ANY><cross-domain-policy/>`, 1, 1, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || pe.Col != tt.col || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("Parse error = %d:%d %q, want %d:%d containing %q", pe.Line, pe.Col, pe.Msg, tt.line, tt.col, tt.msg)
			}
			if fs := Lint([]byte(tt.doc), LintOptions{}); !hasError(fs) {
				t.Fatalf("Lint found no error: %v", fs)
			}
		})
	}
	if _, err := Parse([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v is not ErrTooLarge", err)
	}
	if _, err := Parse([]byte(big[:MaxSize-1])); errors.Is(err, ErrTooLarge) {
		t.Errorf("9999 bytes refused as too large")
	}
}

func TestGenerateRoundTrip(t *testing.T) {
	ps := []Policy{
		{},
		{SiteControl: All},
		{SiteControl: None, Allow: []Allow{{Domain: "*", ToPorts: "*"}}},
		{SiteControl: MasterOnly, Allow: []Allow{
			{Domain: "*.example.com", ToPorts: "9000-9010,9443", Secure: Bool(false)},
			{Domain: "[2001:db8::1]", ToPorts: "9000", Secure: Bool(true)},
			{Domain: `we"ird<&>'` + "\t\n\r", ToPorts: "1"},
		}},
		{Identities: []Identity{{Fingerprint: "ab:cd", FingerprintAlgorithm: "sha-1"}, {}},
			Headers: []AllowHeaders{{Domain: "*", Headers: "X-*", Secure: Bool(true)}}},
	}
	for _, p := range ps {
		roundTrip(t, &p)
		answer := p.SocketAnswer()
		if answer[len(answer)-1] != 0 || string(answer[:len(answer)-1]) != string(p.Generate()) {
			t.Errorf("SocketAnswer is not Generate + NUL")
		}
	}
}

// expectedCorpusErrors lists corpus files that are genuinely invalid, with the
// error Parse reports.
var expectedCorpusErrors = map[string]string{
	// A headers-from rule without headers, and two site-control elements.
	"aib0t-tfu-api.xml": "line 7, column 5: <allow-http-request-headers-from> without headers",
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.xml")
	if err != nil || len(files) < 20 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			findings := Lint(data, LintOptions{})
			p, err := Parse(data)
			if want, bad := expectedCorpusErrors[name]; bad {
				if err == nil || err.Error() != want {
					t.Fatalf("Parse error = %v, want %q", err, want)
				}
				if !hasError(findings) {
					t.Fatalf("Lint found no error in an invalid file: %v", findings)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, fd := range findings {
				if fd.Severity == Error {
					t.Errorf("lint error in a file Parse accepts: %v", fd)
				}
			}
			roundTrip(t, p)
			// Linting the socket files as socket policies on a game port must
			// not find errors: every rule there names its ports.
			if strings.HasPrefix(name, "socket-") {
				for _, fd := range Lint(data, LintOptions{Kind: SocketKind, ServedPort: 9000}) {
					if fd.Severity == Error {
						t.Errorf("socket lint: %v", fd)
					}
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.xml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{specSocketExample, specURLExample, specSchemaExample,
		`<!DOCTYPE x [<!ENTITY a "b">]><cross-domain-policy/>`, `<cross-domain-policy xmlns="u"/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		findings := Lint(data, LintOptions{})
		p, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 {
				t.Fatalf("bad error %v", err)
			}
			if !hasError(findings) {
				t.Fatalf("Parse failed (%v) but Lint found no error", err)
			}
			return
		}
		if len(data) >= MaxSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		out := p.Generate()
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Generate(p)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip:\n%#v\n%#v", p, q)
		}
		p.Evaluate("www.example.com", 9000, false)
	})
}

func BenchmarkParse(b *testing.B) {
	data := []byte(specSchemaExample)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
