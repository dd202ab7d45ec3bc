package policyfile

import (
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	const secret = "hunter2"
	good := []string{
		string((&Policy{Allow: []Allow{{Domain: "*", ToPorts: "9000"}}}).Generate()),
		"\xEF\xBB\xBF<cross-domain-policy/>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!DOCTYPE cross-domain-policy SYSTEM \"x.dtd\">\n<!-- c -->\n<cross-domain-policy></cross-domain-policy>",
		// Broken inside the root: a policy document, for Lint to report.
		"<cross-domain-policy><allow-access-from domain=",
	}
	for _, g := range good {
		if err := Sniff([]byte(g)); err != nil {
			t.Errorf("Sniff(%q) = %v, want nil", g, err)
		}
	}
	bad := map[string]string{
		"root:x:0:0:" + secret + ":/root:/bin/bash\n": "not XML: text at line 1, column 1",
		"\n\n  " + secret:    "not XML: text at line 3, column 3",
		"<a " + secret + ">": "not XML: not well-formed at line 1",
		"<" + secret + "/>":  "root element at line 1, column 1 is not <cross-domain-policy>",
		"<?xml version=\"1.0\" encoding=\"" + secret + "\"?><a/>": "not XML",
		"   ": "no XML element",
		strings.Repeat(secret, MaxSize/len(secret)+1): "bytes or more",
	}
	for in, want := range bad {
		err := Sniff([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Sniff(%.40q) = %v, want %q", in, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Sniff(%.40q) = %v: quotes the input", in, err)
		}
	}
}
