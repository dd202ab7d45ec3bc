package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/tlsterm"
)

func TestNewTLSDialer(t *testing.T) {
	checker := tlsterm.NewRevocationChecker(tlsterm.RevocationOptions{})
	d, err := NewTLSDialer("b", TLS{ServerName: "game.example", Require: "report", Revocation: "off"}, 3*time.Second, checker)
	if err != nil {
		t.Fatal(err)
	}
	if d.ServerName != "game.example" || d.Require != tlsterm.RequireReport || d.Timeout != 3*time.Second ||
		d.Checker != checker || d.RootCAs != nil {
		t.Fatalf("dialer %+v", d)
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  TLS
	}{
		{"require", TLS{Require: "maybe"}},
		{"revocation", TLS{Revocation: "sometimes"}},
		{"missing ca file", TLS{CAFile: filepath.Join(t.TempDir(), "none.pem")}},
		{"bad ca file", TLS{CAFile: bad}},
	} {
		if _, err := NewTLSDialer("b", tc.tls, time.Second, nil); err == nil || !strings.HasPrefix(err.Error(), `backend "b": tls: `) {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}
