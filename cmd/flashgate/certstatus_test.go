package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

func TestCertStatusWorld(t *testing.T) {
	w := tlstest.NewWorld(t)
	for i, sc := range w.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			args := []string{"certstatus", "-servername", sc.ServerName, sc.Addr, "-ca", w.CAFile}
			if i%2 == 1 { // flags before and after the address
				args = []string{"certstatus", sc.Addr, "-servername", sc.ServerName, "-ca", w.CAFile}
			}
			if sc.Revocation != "" {
				args = append(args, "-revocation", sc.Revocation)
			}
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			first, _, _ := strings.Cut(out.String(), "\n")
			if first != sc.Want {
				t.Fatalf("first line %q, want %q\nstdout:\n%s\nstderr:\n%s", first, sc.Want, out.String(), errb.String())
			}
			wantCode := 1
			if sc.Want == "trusted" {
				wantCode = 0
			}
			if code != wantCode {
				t.Fatalf("exit %d, want %d", code, wantCode)
			}
			for _, field := range []string{"subject:", "issuer:", "valid:"} {
				if !strings.Contains(out.String(), "\n"+field) {
					t.Errorf("no %s line:\n%s", field, out.String())
				}
			}
			if sc.Want != "trusted" && !strings.Contains(out.String(), "\nreason:") {
				t.Errorf("no reason line:\n%s", out.String())
			}
		})
	}
}

func TestCertStatusCannotConnect(t *testing.T) {
	addr := strings.TrimSuffix(strings.TrimPrefix(tlstest.DeadURL(t), "http://"), "/dead")
	var out, errb bytes.Buffer
	if code := run([]string{"certstatus", addr}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "refused") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestCertStatusUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"certstatus"}, &out, &errb); code != 2 {
		t.Fatalf("no address: exit %d", code)
	}
	if code := run([]string{"certstatus", "nohostport"}, &out, &errb); code != 2 {
		t.Fatalf("bad address: exit %d", code)
	}
	if code := run([]string{"certstatus", "-revocation", "hard", "127.0.0.1:1"}, &out, &errb); code != 2 {
		t.Fatalf("bad mode: exit %d", code)
	}
}
