package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestConfigErrorFormat(t *testing.T) {
	src := "listener \"l\" {\n  address = \"127.0.0.1:0\"\n  backend = \"b\"\n\tidle_timeout  = \"5 minutes\"\n}\nbackend \"b\" {\n  builtin = \"echo\"\n}\n"
	_, err := Parse([]byte(src), "config.hcl")
	if err == nil {
		t.Fatal("no error")
	}
	want := "config.hcl:4:18: invalid duration \"5 minutes\" for idle_timeout: time: unknown unit \" minutes\" in duration \"5 minutes\"\n" +
		"    4 | \tidle_timeout  = \"5 minutes\"\n" +
		"      | \t                ^"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}

	// Several errors come in source order, one message line each.
	src = "listener \"a\" {\n  address = \"::1:843\"\n  backend = \"nope\"\n}\nshutdown_timeout = \"x\"\n"
	_, err = Parse([]byte(src), "c.hcl")
	lines := strings.Split(err.Error(), "\n")
	var heads []string
	for _, l := range lines {
		if m := regexp.MustCompile(`^c\.hcl:\d+:\d+`).FindString(l); m != "" {
			heads = append(heads, m)
		}
	}
	if want := []string{"c.hcl:2:13", "c.hcl:3:13", "c.hcl:5:20"}; !reflect.DeepEqual(heads, want) {
		t.Errorf("positions %q, want %q in:\n%s", heads, want, err)
	}
	if len(lines) != 9 {
		t.Errorf("got %d lines, want 3 diagnostics of 3 lines:\n%s", len(lines), err)
	}
}

func TestConfigDiagFormat(t *testing.T) {
	f := &hcl.File{Bytes: []byte("<cross-domain-policy>\n  <allow-access-from domain=\"*\" to-ports=\"*\"/>\n</cross-domain-policy>\n")}
	files := map[string]*hcl.File{"/p/legacy.xml": f}
	warn := &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "\"*\" to \"*\"",
		Detail:   "any SWF may connect\nto any port",
		// A subject from a non-HCL parser may carry line and column only.
		Subject: &hcl.Range{Filename: "/p/legacy.xml", Start: hcl.Pos{Line: 2, Column: 3}},
	}
	want := "/p/legacy.xml:2:3: warning: \"*\" to \"*\": any SWF may connect to any port\n" +
		"    2 |   <allow-access-from domain=\"*\" to-ports=\"*\"/>\n" +
		"      |   ^"
	if got := formatDiag(warn, files, "config.hcl"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	noSubject := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "policy rules broken"}
	if got := formatDiag(noSubject, files, "config.hcl"); got != "config.hcl: policy rules broken" {
		t.Errorf("got %q", got)
	}
	outside := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "s", Subject: &hcl.Range{Filename: "/p/legacy.xml", Start: hcl.Pos{Line: 40, Column: 3}}}
	if got := formatDiag(outside, files, "config.hcl"); got != "/p/legacy.xml:40:3: s" {
		t.Errorf("got %q", got)
	}
	e := &Error{Diags: hcl.Diagnostics{warn, noSubject}}
	if got := e.Error(); got != "config: policy rules broken" {
		t.Errorf("Error without filename: %q", got)
	}
}
