package config

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// pemFiles are PEM files for tests: a CA, a leaf it signed with its key,
// and a key of another pair.
type pemFiles struct {
	ca, leaf, leafKey, otherKey string
}

func newPEMFiles(t *testing.T) pemFiles {
	t.Helper()
	ca := tlstest.NewCert(t, "Test Root", true, nil)
	leaf := tlstest.NewCert(t, "localhost", false, ca, tlstest.DNSNames("localhost"))
	other := tlstest.NewCert(t, "other", false, ca)
	certPEM := func(c *tlstest.Cert) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
	}
	keyPEM := func(c *tlstest.Cert) string {
		kd, err := x509.MarshalPKCS8PrivateKey(c.Key)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	}
	return pemFiles{ca: certPEM(ca), leaf: certPEM(leaf), leafKey: keyPEM(leaf), otherKey: keyPEM(other)}
}

// TestConfigFiles: Load reads every certificate, key and CA file the config
// names and reports each problem at the attribute that named it.
func TestConfigFiles(t *testing.T) {
	p := newPEMFiles(t)
	const secret = "SECRET_LINE=hunter2"
	files := map[string]string{
		"leaf.pem": p.leaf, "leaf.key": p.leafKey, "other.key": p.otherKey, "ca.pem": p.ca,
		"secret.txt": secret + "\n", "empty.pem": "",
		"bad-cert.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	}
	listener := func(tls string) string {
		return `
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
  tls {
` + tls + `
  }
}
backend "b" {
  builtin = "echo"
}
`
	}
	backend := func(ca string) string {
		return `
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
}
backend "b" {
  address = "127.0.0.1:1"
  tls {
    ca_file = "` + ca + `"
  }
}
`
	}
	acme := func(root string) string {
		return `
acme {
  ca_root = "` + root + `"
}
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
}
backend "b" {
  builtin = "echo"
}
`
	}
	tests := []struct {
		name string
		src  string
		want []string // "" = valid; else substrings of the error, each "LINE:COL: ..." first
	}{
		{"pair", listener(`cert_file = "leaf.pem"
    key_file = "leaf.key"`), nil},
		{"pair in certificate block", listener(`certificate {
      cert_file = "leaf.pem"
      key_file = "leaf.key"
    }`), nil},
		{"missing cert", listener(`cert_file = "nope.pem"
    key_file = "leaf.key"`), []string{"config.hcl:6:13: cannot read cert_file ", "nope.pem: no such file or directory"}},
		{"missing key", listener(`cert_file = "leaf.pem"
    key_file = "nope.key"`), []string{"config.hcl:7:16: cannot read key_file "}},
		{"both missing", listener(`cert_file = "a.pem"
    key_file = "a.key"`), []string{"config.hcl:6:13: cannot read cert_file", "config.hcl:7:16: cannot read key_file"}},
		{"mismatched pair", listener(`cert_file = "leaf.pem"
    key_file = "other.key"`), []string{"config.hcl:7:16: key_file ", "does not fit cert_file", "private key does not match public key"}},
		{"mismatched certificate block", listener(`certificate {
      cert_file = "leaf.pem"
      key_file = "other.key"
    }`), []string{"config.hcl:8:18: key_file ", "private key does not match public key"}},
		{"cert is not PEM", listener(`cert_file = "secret.txt"
    key_file = "leaf.key"`), []string{"config.hcl:6:13: cert_file ", "no PEM certificate"}},
		{"cert does not parse", listener(`cert_file = "bad-cert.pem"
    key_file = "leaf.key"`), []string{"config.hcl:6:13: cert_file ", "PEM block 1 is not a valid certificate"}},
		{"key is a certificate", listener(`cert_file = "leaf.pem"
    key_file = "leaf.pem"`), []string{"config.hcl:7:16: key_file "}},
		{"cert is a directory", listener(`cert_file = "."
    key_file = "leaf.key"`), []string{"config.hcl:6:13: cannot read cert_file ", "not a regular file"}},
		{"ca_file", backend("ca.pem"), nil},
		{"ca_file missing", backend("nope.pem"), []string{"config.hcl:9:15: cannot read ca_file "}},
		{"ca_file not PEM", backend("secret.txt"), []string{"config.hcl:9:15: ca_file ", "no PEM certificate"}},
		{"ca_file empty", backend("empty.pem"), []string{"config.hcl:9:15: ca_file ", "no PEM certificate"}},
		{"ca_root", acme("ca.pem"), nil},
		{"ca_root missing", acme("nope.pem"), []string{"config.hcl:3:13: cannot read ca_root "}},
		{"ca_root not PEM", acme("secret.txt"), []string{"config.hcl:3:13: ca_root ", "no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src, files)
			_, err := Load(path)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error quotes the file's content:\n%s", msg)
			}
			if strings.Contains(msg, "tls: ") {
				t.Errorf("error has crypto/tls's prefix inside the message:\n%s", msg)
			}
		})
	}
}

// TestConfigFilesRelative: file paths resolve from the config file's
// directory, not from the working directory.
func TestConfigFilesRelative(t *testing.T) {
	p := newPEMFiles(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(sub, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"certs/leaf.pem": p.leaf, "certs/leaf.key": p.leafKey} {
		if err := os.WriteFile(filepath.Join(sub, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := `
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
  tls {
    cert_file = "certs/leaf.pem"
    key_file  = "certs/leaf.key"
  }
}
backend "b" {
  builtin = "echo"
}
`
	path := filepath.Join(sub, "flashgate.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cfg, err := Load(filepath.Join("conf", "flashgate.hcl"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := cfg.Listeners[0].TLS.CertFile, filepath.Join(sub, "certs", "leaf.pem"); got != want {
		t.Errorf("CertFile = %q, want %q", got, want)
	}
}
