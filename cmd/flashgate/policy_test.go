package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/policyfile"
)

func runPolicy(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"policy"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const policyCheckXML = `<?xml version="1.0"?>
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="master-only"/>
  <allow-access-from domain="*.example.com" to-ports="9000-9010"/>
  <allow-access-from domain="secure.example.org" to-ports="9443" secure="true"/>
</cross-domain-policy>
`

func TestPolicyCheck(t *testing.T) {
	file := writeTemp(t, "crossdomain.xml", policyCheckXML)
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", file, "-domain", "game.example.com", "-port", "9005"}, 0,
			`allow <allow-access-from domain="*.example.com" to-ports="9000-9010"/>`},
		{[]string{"check", "-domain", "example.com", "-port", "9000", file}, 0, "allow "},
		{[]string{"check", file, "-domain", "badexample.com", "-port", "9000"}, 1, `deny master policy: no allow-access-from rule grants domain "badexample.com" port 9000`},
		{[]string{"check", file, "-domain", "game.example.com", "-port", "9011"}, 1, "deny "},
		{[]string{"check", file, "-domain", "secure.example.org", "-port", "9443"}, 1, "deny "},
		{[]string{"check", file, "-domain", "secure.example.org", "-port", "9443", "-secure"}, 0, "allow "},
		{[]string{"check", file, "-port", "9000"}, 1, "deny "},
	}
	for _, tt := range tests {
		code, out, errs := runPolicy(t, tt.args...)
		if code != tt.code || !strings.HasPrefix(out, tt.out) {
			t.Errorf("policy %v: exit %d, %q (stderr %q), want exit %d, %q", tt.args[1:], code, out, errs, tt.code, tt.out)
		}
	}
	none := writeTemp(t, "none.xml", `<cross-domain-policy><site-control permitted-cross-domain-policies="none"/><allow-access-from domain="*" to-ports="*"/></cross-domain-policy>`)
	if code, out, _ := runPolicy(t, "check", none, "-domain", "a.example", "-port", "9000"); code != 1 || !strings.Contains(out, `"none"`) {
		t.Errorf("site-control none: exit %d, %q", code, out)
	}
	bad := writeTemp(t, "bad.xml", "<cross-domain-policy>\n<allow-access-from domain=\"*\" to-ports=\"x\"/>\n</cross-domain-policy>")
	if code, out, _ := runPolicy(t, "check", bad, "-domain", "a.example", "-port", "9000"); code != 1 || !strings.HasPrefix(out, "deny "+bad+":2:1:") {
		t.Errorf("invalid file: exit %d, %q", code, out)
	}
	if code, _, _ := runPolicy(t, "check", file, "-domain", "a.example"); code != 2 {
		t.Errorf("missing -port: exit %d, want 2", code)
	}
	if code, _, _ := runPolicy(t, "check", filepath.Join(t.TempDir(), "nope.xml"), "-domain", "a", "-port", "1"); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}

func TestPolicyLint(t *testing.T) {
	clean := writeTemp(t, "clean.xml", policyCheckXML)
	if code, out, _ := runPolicy(t, "lint", clean); code != 0 || out != "" {
		t.Errorf("clean: exit %d, %q", code, out)
	}
	warn := writeTemp(t, "warn.xml", "<cross-domain-policy>\n  <allow-access-from domain=\"*\" to-ports=\"*\"/>\n</cross-domain-policy>\n")
	code, out, _ := runPolicy(t, "lint", warn)
	if code != 0 || out != warn+`:2:3: warning: domain="*" with to-ports="*" lets a SWF from any site connect to every port`+"\n" {
		t.Errorf("warnings only: exit %d, %q", code, out)
	}
	bad := writeTemp(t, "bad.xml", "<cross-domain-policy>\n  <allow-access-from domain=\"*.example.com\" to-ports=\"80\"/>\n  <allow-access-from domain=\"a.example\"/>\n  <site-control permitted-cross-domain-policies=\"sometimes\"/>\n</cross-domain-policy>\n")
	code, out, _ = runPolicy(t, "lint", "-port", "9000", bad)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		bad + ":2:3: warning: ports below 1024 (80)",
		bad + ":3:3: error: allow-access-from domain=\"a.example\" has no to-ports",
		bad + ":4:3: error: unknown permitted-cross-domain-policies value \"sometimes\"",
	}
	if code != 1 || len(lines) != len(want) {
		t.Fatalf("errors: exit %d, %q", code, out)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	if code, _, _ := runPolicy(t, "lint"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
}

const policyShowConfig = `
policy "games" {
  site_control = "master-only"
  allow {
    domain = "*.example.com"
    ports  = "9000-9010"
  }
}
policy "legacy" {
  file = "legacy.xml"
}
listener "master" {
  address = "127.0.0.1:0"
  policy  = "games"
}
`

func TestPolicyShow(t *testing.T) {
	dir := t.TempDir()
	legacy := `<cross-domain-policy><allow-access-from domain="old.example" to-ports="9500" secure="false"/></cross-domain-policy>`
	if err := os.WriteFile(filepath.Join(dir, "legacy.xml"), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(config, []byte(policyShowConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	games := &policyfile.Policy{SiteControl: policyfile.MasterOnly,
		Allow: []policyfile.Allow{{Domain: "*.example.com", ToPorts: "9000-9010"}}}
	old := &policyfile.Policy{Allow: []policyfile.Allow{{Domain: "old.example", ToPorts: "9500", Secure: policyfile.Bool(false)}}}

	code, out, errs := runPolicy(t, "show", "-name", "games", "-config", config)
	served := games.SocketAnswer()
	if code != 0 || out != string(served[:len(served)-1]) {
		t.Fatalf("show -name games: exit %d, %q (stderr %q)", code, out, errs)
	}
	code, out, errs = runPolicy(t, "show", "-config", config)
	want := "<!-- policy \"games\" -->\n" + string(games.Generate()) + "<!-- policy \"legacy\" -->\n" + string(old.Generate())
	if code != 0 || out != want {
		t.Fatalf("show: exit %d, %q (stderr %q)\nwant %q", code, out, errs, want)
	}
	if code, _, _ := runPolicy(t, "show", "-config", config, "-name", "nope"); code != 1 {
		t.Errorf("unknown name: exit %d, want 1", code)
	}
	if code, _, _ := runPolicy(t, "show", "-config", filepath.Join(dir, "missing.hcl")); code != 1 {
		t.Errorf("missing config: exit %d, want 1", code)
	}
}

// TestPolicyShowLintsClean: with one policy (the default config.hcl), show
// prints exactly the served policy, so it lints clean and a strict XML
// parser (xmllint or expat, when installed) accepts it.
func TestPolicyShowLintsClean(t *testing.T) {
	code, out, errs := runPolicy(t, "show", "-config", filepath.Join("..", "..", "config.hcl"))
	if code != 0 {
		t.Fatalf("show: exit %d (stderr %q)", code, errs)
	}
	local := &policyfile.Policy{SiteControl: policyfile.MasterOnly,
		Allow: []policyfile.Allow{{Domain: "*", ToPorts: "8080"}}}
	if served := local.SocketAnswer(); out != string(served[:len(served)-1]) {
		t.Fatalf("show = %q, want the served policy %q", out, served[:len(served)-1])
	}
	file := writeTemp(t, "f.xml", out)
	if code, lint, _ := runPolicy(t, "lint", file); code != 0 || lint != "" {
		t.Fatalf("lint of show's output: exit %d, %q", code, lint)
	}
	var cmd *exec.Cmd
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		cmd = exec.Command(xmllint, "--noout", "--nonet", file)
	} else if py, err := exec.LookPath("python3"); err == nil {
		cmd = exec.Command(py, "-c", "import sys, xml.parsers.expat as e; e.ParserCreate().ParseFile(open(sys.argv[1], 'rb'))", file)
	} else {
		t.Log("neither xmllint nor python3 here: strict parse not checked")
		return
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s rejects show's output: %v\n%s", cmd.Path, err, b)
	}
}
