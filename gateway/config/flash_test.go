package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/policyfile"
)

// loadFlash writes src and files into a temporary directory and loads it.
func loadFlash(t *testing.T, src string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

const flashBackend = `
backend "game" {
  address = ["127.0.0.1:5000"]
}
`

func TestLoadPolicyFile(t *testing.T) {
	src := `
policy "legacy" {
  file = "crossdomain.xml"
}
listener "game" {
  address = "127.0.0.1:9000"
  policy  = "legacy"
  backend = "game"
}
` + flashBackend
	good := `<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="master-only"/>
  <allow-access-from domain="*.example.com" to-ports="9000-9010"/>
  <allow-access-from domain="*.example.com" to-ports="9000-9010"/>
</cross-domain-policy>
`
	cfg, err := loadFlash(t, src, map[string]string{"crossdomain.xml": good})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	pc := cfg.Policy("legacy")
	want := &policyfile.Policy{SiteControl: policyfile.MasterOnly, Allow: []policyfile.Allow{
		{Domain: "*.example.com", ToPorts: "9000-9010"}, {Domain: "*.example.com", ToPorts: "9000-9010"},
	}}
	if !reflect.DeepEqual(pc.Policy, want) || pc.SiteControl != policyfile.MasterOnly {
		t.Fatalf("policy = %+v, site_control %q", pc.Policy, pc.SiteControl)
	}
	if w := strings.Join(cfg.Warnings, "\n"); !strings.Contains(w, "duplicate rule") {
		t.Errorf("warnings %q lack the duplicate rule", w)
	}

	bad := "<cross-domain-policy>\n  <allow-access-from domain=\"*.example.com\"/>\n  <allow-access-from domain=\"*\" to-ports=\"90-80\"/>\n</cross-domain-policy>\n"
	_, err = loadFlash(t, src, map[string]string{"crossdomain.xml": bad})
	if err == nil {
		t.Fatal("a policy file with lint errors loaded")
	}
	for _, wantMsg := range []string{"crossdomain.xml:2:", "has no to-ports", "crossdomain.xml:3:", "reversed"} {
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("error lacks %q:\n%v", wantMsg, err)
		}
	}

	if _, err = loadFlash(t, src, nil); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadPolicyFileSiteControl(t *testing.T) {
	file := `<cross-domain-policy><allow-access-from domain="*" to-ports="9000"/></cross-domain-policy>`
	pc := &Policy{Name: "p", SiteControl: policyfile.None, File: filepath.Join(t.TempDir(), "p.xml")}
	if err := os.WriteFile(pc.File, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if diags := loadPolicyFile(pc); diags.HasErrors() || pc.Policy.SiteControl != policyfile.None {
		t.Fatalf("site_control from the block: %v %+v", diags, pc.Policy)
	}
	pc.Policy = nil
	pc.SiteControl = policyfile.All
	file = `<cross-domain-policy><site-control permitted-cross-domain-policies="none"/><allow-access-from domain="*" to-ports="9000"/></cross-domain-policy>`
	if err := os.WriteFile(pc.File, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if diags := loadPolicyFile(pc); !diags.HasErrors() || !strings.Contains(diags.Error(), "site_control") {
		t.Fatalf("conflicting site-control: %v", diags)
	}
}

func TestValidateFlashRules(t *testing.T) {
	policy := func(name, ports string) *Policy {
		return &Policy{Name: name, Policy: &policyfile.Policy{Allow: []policyfile.Allow{{Domain: "*", ToPorts: ports}}}}
	}
	tests := []struct {
		name     string
		ports    string
		listener Listener
		want     string // "" valid, else a substring of the error
	}{
		{"game port granted", "9000-9010", Listener{Address: "[::]:9000", Backend: "b"}, ""},
		{"star", "*", Listener{Address: "[::]:9000", Backend: "b"}, ""},
		{"own port not granted", "9001", Listener{Address: "[::]:9000", Backend: "b"}, "does not grant port 9000"},
		{"low grant from high port", "80,9000", Listener{Address: "[::]:9000", Backend: "b"}, "grants ports below 1024 (80)"},
		{"low grant from high policy-only port", "80", Listener{Address: "[::]:8843"}, "socket policy served from a port >= 1024"},
		{"master on 843 grants low ports", "80,9000", Listener{Address: "[::]:843"}, ""},
		{"raw relay below 1024", "*", Listener{Address: "[::]:443", Backend: "b"}, "below 1024"},
		{"websocket-only below 1024", "443", Listener{Address: "[::]:443",
			WebSockets: []*WebSocket{{Path: "/ws", Backend: "b"}}}, ""},
		{"transparent below 1024", "*", Listener{Address: "[::]:443", Backend: "b", Policy: "-"}, ""},
		{"port 0 skips", "80", Listener{Address: "127.0.0.1:0", Backend: "b"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.listener
			l.Name = "l"
			if l.Policy == "-" {
				l.Policy = ""
			} else {
				l.Policy = "p"
			}
			cfg := &Config{Policies: []*Policy{policy("p", tt.ports)}, Listeners: []*Listener{&l}}
			diags := validateFlashRules(cfg)
			if tt.want == "" {
				if len(diags) > 0 {
					t.Fatalf("refused: %v", diags)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("accepted, want %q", tt.want)
			}
			text := diags[0].Summary + " " + diags[0].Detail
			if !strings.Contains(text, tt.want) || !strings.Contains(text, "Flash rule") {
				t.Fatalf("error %q, want %q and the Flash rule", text, tt.want)
			}
			if diags[0].Subject == nil {
				t.Fatalf("no subject")
			}
		})
	}
}

func TestValidateFlashRulesThroughLoad(t *testing.T) {
	src := `
policy "games" {
  allow {
    domain = "*.example.com"
    ports  = "9001"
  }
}
listener "chat" {
  address = "127.0.0.1:9000"
  policy  = "games"
  backend = "game"
}
` + flashBackend
	_, err := loadFlash(t, src, nil)
	if err == nil || !strings.Contains(err.Error(), `policy "games" does not grant port 9000`) {
		t.Fatalf("Load error = %v", err)
	}
}

// sizedAllow returns n allow rules, each for its own domain.
func sizedAllow(n int) []policyfile.Allow {
	allow := make([]policyfile.Allow, n)
	for i := range allow {
		allow[i] = policyfile.Allow{Domain: fmt.Sprintf("h%d.example.com", i), ToPorts: "9000"}
	}
	return allow
}

// servedSize is the size of the XML the gateway serves for a policy of
// sizedAllow(n).
func servedSize(n int) int {
	return len((&policyfile.Policy{Allow: sizedAllow(n)}).Generate())
}

// largestPolicyUnder returns the largest n whose servedSize stays under
// policyfile.MaxSize.
func largestPolicyUnder(t *testing.T) int {
	t.Helper()
	for n := 1; n < policyfile.MaxSize; n++ {
		if servedSize(n+1) >= policyfile.MaxSize {
			return n
		}
	}
	t.Fatal("no policy reaches policyfile.MaxSize")
	return 0
}

func TestPolicySizeLimit(t *testing.T) {
	under := largestPolicyUnder(t)
	const listener = `
listener "game" {
  address = "127.0.0.1:9000"
  policy  = "big"
  backend = "game"
}
` + flashBackend
	inline := func(n int) string {
		var b strings.Builder
		b.WriteString("\npolicy \"big\" {\n")
		for _, a := range sizedAllow(n) {
			fmt.Fprintf(&b, "  allow {\n    domain = %q\n    ports  = %q\n  }\n", a.Domain, a.ToPorts)
		}
		b.WriteString("}\n")
		return b.String() + listener
	}
	// A policy file under the limit whose served form is not: the gateway
	// serves the policy as Generate renders it, with the XML declaration
	// and DOCTYPE the file leaves out.
	var file string
	var fileSize int
	for n := under - 10; n <= under+10; n++ {
		size := servedSize(n)
		var b strings.Builder
		b.WriteString("<cross-domain-policy>")
		for _, a := range sizedAllow(n) {
			fmt.Fprintf(&b, `<allow-access-from domain="%s" to-ports="%s"/>`, a.Domain, a.ToPorts)
		}
		b.WriteString("</cross-domain-policy>")
		if size >= policyfile.MaxSize && b.Len() < policyfile.MaxSize {
			file, fileSize = b.String(), size
			break
		}
	}
	if file == "" {
		t.Fatal("found no policy file under the limit that is served over it")
	}

	tests := []struct {
		name  string
		src   string
		files map[string]string
		size  int // 0: loads
	}{
		{"one block", inline(1), nil, 0},
		{"largest under the limit", inline(under), nil, 0},
		{"one block over", inline(under + 1), nil, servedSize(under + 1)},
		{"800 blocks", inline(800), nil, servedSize(800)},
		{"file served over the limit", "\npolicy \"big\" {\n  file = \"big.xml\"\n}\n" + listener,
			map[string]string{"big.xml": file}, fileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadFlash(t, tt.src, tt.files)
			if tt.size == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if n := len(cfg.Policy("big").Policy.Generate()); n >= policyfile.MaxSize {
					t.Fatalf("loaded a policy of %d bytes", n)
				}
				return
			}
			if err == nil {
				t.Fatalf("a policy of %d bytes loaded", tt.size)
			}
			want := fmt.Sprintf(`config.hcl:2:1: policy "big" is %d bytes of XML as served, over the limit: the player refuses policies of %d bytes or more`,
				tt.size, policyfile.MaxSize)
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, want)
			}
		})
	}
}

// TestPolicyFileNotAPolicy: a policy file that is not a cross-domain-policy
// document is reported at the file attribute with what is wrong, and no byte
// of its content: the path may point at /etc/passwd or a secret.
func TestPolicyFileNotAPolicy(t *testing.T) {
	const secret = "SECRET_TOKEN=hunter2-abcdef"
	src := `
policy "p" {
  file = "target"
}
listener "l" {
  address = "127.0.0.1:0"
  policy  = "p"
}
`
	tests := []struct {
		name, body, want string
	}{
		{"text", secret + "\nmore\n", "not XML: text at line 1, column 1, before any element"},
		{"text after a comment", "<!-- x -->\n  " + secret + "\n", "not XML: text at line 2, column 3, before any element"},
		{"broken XML", "<" + secret + "\n", "not XML: not well-formed at line"},
		{"passwd-like", "root:x:0:0:" + secret + ":/root:/bin/bash\n", "not XML: text at line 1, column 1"},
		{"other root", "<?xml version=\"1.0\"?>\n<" + "secret" + " v=\"" + secret + "\"/>\n",
			"not a cross-domain-policy document: the root element at line 2, column 1 is not <cross-domain-policy>"},
		{"namespaced root", `<x:cross-domain-policy xmlns:x="` + secret + `"/>`, "not a cross-domain-policy document"},
		{"empty", "", "not a cross-domain-policy document: no XML element"},
		{"binary", "\x00\x01" + secret, "not XML"},
		{"too large", strings.Repeat(secret+"\n", policyfile.MaxSize/len(secret)+1), "bytes or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFlash(t, src, map[string]string{"target": tt.body})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "config.hcl:3:10: policy \"p\": file ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error does not say %q at the file attribute:\n%s", tt.want, msg)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error quotes the file:\n%s", msg)
			}
		})
	}
	// A policy document with a mistake inside is still linted, with its line.
	_, err := loadFlash(t, src, map[string]string{"target": "<cross-domain-policy>\n<allow-access-from domain=\"*\" to-ports=\"x\"/>\n</cross-domain-policy>\n"})
	if err == nil || !strings.Contains(err.Error(), "target:2:1: ") {
		t.Errorf("a policy with a bad to-ports: error %v, want it at target:2:1", err)
	}
}
