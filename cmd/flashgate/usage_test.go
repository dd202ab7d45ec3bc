package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// commandFlags returns the flags a command defines, by asking it for -h
// with a flag set that records them.
func commandFlags(t *testing.T, name string) []string {
	t.Helper()
	_, out, _ := runCmd(strings.Fields("help " + name)...)
	var flags []string
	for _, line := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(line, "  -"); ok {
			flags = append(flags, "-"+strings.Fields(f)[0])
		}
	}
	return flags
}

// TestCommandHelp: every command answers -h (on stderr) and "help CMD" (on
// stdout) with its usage line, its one-line description and every flag.
func TestCommandHelp(t *testing.T) {
	for _, h := range commandHelps() {
		if h.name == "help" {
			continue
		}
		args := append(strings.Fields(h.name), "-h")
		code, out, errs := runCmd(args...)
		usage := strings.TrimSpace("usage: flashgate " + h.name + " " + h.args)
		if code != 0 || out != "" || !strings.HasPrefix(errs, usage+"\n\n"+h.desc+"\n") {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q", h.name, code, out, errs)
		}
		code, out, errs = runCmd(append([]string{"help"}, strings.Fields(h.name)...)...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, usage+"\n\n"+h.desc+"\n") {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q", h.name, code, out, errs)
		}
	}
	want := map[string][]string{
		"run":          {"-config"},
		"validate":     {"-config"},
		"policy show":  {"-config", "-name"},
		"policy lint":  {"-port"},
		"policy check": {"-domain", "-port", "-secure"},
		"certstatus":   {"-ca", "-revocation", "-servername", "-timeout"},
		"version":      nil,
	}
	for name, flags := range want {
		if got := commandFlags(t, name); strings.Join(got, " ") != strings.Join(flags, " ") {
			t.Errorf("help %s lists flags %v, want %v", name, got, flags)
		}
	}
	if code, out, _ := runCmd("help"); code != 0 || !strings.Contains(out, "policy check") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	if code, _, errs := runCmd("help", "valdate"); code != 2 || !strings.Contains(errs, "did you mean validate?") {
		t.Errorf("help valdate: exit %d, %q", code, errs)
	}
}

// TestREADMECommandFlags: the README's command table names every flag of
// every command.
func TestREADMECommandFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `flashgate "); ok {
			for _, h := range commandHelps() {
				if strings.HasPrefix(rest, h.name+" ") || strings.HasPrefix(rest, h.name+"`") {
					rows[h.name] = line
				}
			}
		}
	}
	for _, h := range commandHelps() {
		row, ok := rows[h.name]
		if !ok {
			t.Errorf("README.md has no row for flashgate %s", h.name)
			continue
		}
		for _, f := range commandFlags(t, h.name) {
			if !strings.Contains(row, f+" ") && !strings.Contains(row, f+"]") {
				t.Errorf("README.md row of flashgate %s does not name %s: %s", h.name, f, row)
			}
		}
	}
}

func TestCommandLineMistakes(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"validate", "my.hcl"}, `flashgate validate: unexpected argument "my.hcl"; did you mean -config my.hcl?`},
		{[]string{"run", "prod.hcl"}, "did you mean -config prod.hcl?"},
		{[]string{"policy", "show", "x.hcl"}, "did you mean -config x.hcl?"},
		{[]string{"validate", "-confg", "x.hcl"}, "flag provided but not defined: -confg; did you mean -config?"},
		{[]string{"policy", "lint", "-prot", "843", "f.xml"}, "did you mean -port?"},
		{[]string{"certstatus", "-severname", "a", "h:1"}, "did you mean -servername?"},
		{[]string{"policy", "check", "f.xml", "-domain", "a.example"}, "flashgate policy check: missing -port P"},
		{[]string{"policy", "check", "-domain", "a.example", "-port", "80"}, "flashgate policy check: want one FILE"},
		{[]string{"policy", "check", "f.xml", "-port", "70000"}, "-port 70000: want 1 to 65535"},
		{[]string{"polcy"}, `unknown command "polcy"; did you mean policy?`},
		{[]string{"policy", "lnt"}, "did you mean lint?"},
	}
	for _, tt := range tests {
		code, out, errs := runCmd(tt.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errs, tt.want)
		}
	}
	// Far from every flag: no suggestion.
	if _, _, errs := runCmd("validate", "-zzzzzzzz"); strings.Contains(errs, "did you mean") {
		t.Errorf("-zzzzzzzz got a suggestion: %q", errs)
	}
}

func TestValidateSummaryPlurals(t *testing.T) {
	one := writeTemp(t, "one.hcl", `
listener "a" {
  address = "127.0.0.1:0"
  backend = "b"
}
backend "b" {
  builtin = "echo"
}
`)
	code, out, errs := runCmd("validate", "-config", one)
	if code != 0 || out != one+": valid (1 listener, 1 backend, 0 policies, 0 udp blocks)\n" {
		t.Errorf("validate: exit %d, %q (stderr %q)", code, out, errs)
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "abc", 3}, {"port", "prot", 2}, {"config", "confg", 1}, {"kitten", "sitting", 3}} {
		if d := levenshtein(tt.a, tt.b); d != tt.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}
