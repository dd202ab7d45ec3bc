package gateway

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/policyfile"
)

// TestServedPolicyParsesBack loads an HCL config, serves its policy from a
// real listener, and parses the bytes on the wire back into the configured
// rules.
func TestServedPolicyParsesBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flashgate.hcl")
	src := `
policy "games" {
  site_control = "master-only"
  allow {
    domain = "*.example.com"
    ports  = "9000-9010,9443"
  }
  allow {
    domain = "203.0.113.7"
    ports  = "9000"
    secure = true
  }
}

listener "master" {
  address = "127.0.0.1:0"
  policy  = "games"
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	gw, _, _ := startGateway(t, cfg)
	c := dial(t, gw.Addr("master"))
	c.Write([]byte("<policy-file-request/>\x00"))
	wire, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(wire) == 0 || wire[len(wire)-1] != 0 {
		t.Fatalf("answer does not end in NUL: %q", wire)
	}
	got, err := policyfile.Parse(bytes.TrimSuffix(wire, []byte{0}))
	if err != nil {
		t.Fatalf("Parse(served policy): %v\n%s", err, wire)
	}
	want := &policyfile.Policy{
		SiteControl: policyfile.MasterOnly,
		Allow: []policyfile.Allow{
			{Domain: "*.example.com", ToPorts: "9000-9010,9443"},
			{Domain: "203.0.113.7", ToPorts: "9000", Secure: policyfile.Bool(true)},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("served policy parsed to\n%+v\nwant\n%+v", got, want)
	}
	if d := got.Evaluate("games.example.com", 9443, false); !d.Allowed {
		t.Errorf("served policy denies games.example.com:9443: %s", d.Rule)
	}
}
