package gateway

import (
	"bytes"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// TestExampleConfigsLoad loads every example config (and the default one):
// a config the README points people at must be valid.
func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../examples/*/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../config.hcl")
	if len(files) < 8 {
		t.Fatalf("found only %d example configs: %v", len(files), files)
	}
	// The TLS examples name certificate files their READMEs make, and the
	// loader reads them: make a pair for them here.
	pairDir := t.TempDir()
	ca := tlstest.NewCert(t, "Example Root", true, nil)
	leaf := tlstest.NewCert(t, "localhost", false, ca, tlstest.DNSNames("localhost"))
	certFile, keyFile := tlstest.WritePair(t, pairDir, "pair", leaf, ca)
	t.Setenv("FLASHGATE_BENCH_CERT", certFile)
	t.Setenv("FLASHGATE_BENCH_KEY", keyFile)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if filepath.Base(filepath.Dir(f)) == "tls-legacy" { // cert.pem and key.pem beside the config
				f = copyWithPair(t, f, certFile, keyFile)
			}
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(cfg.Listeners)+len(cfg.UDP) == 0 {
				t.Fatal("no listener and no udp block")
			}
		})
	}
}

// copyWithPair copies the config file f into a temporary directory, beside
// certFile and keyFile as cert.pem and key.pem, and returns the copy's path.
func copyWithPair(t *testing.T, f, certFile, keyFile string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{f: "flashgate.hcl", certFile: "cert.pem", keyFile: "key.pem"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "flashgate.hcl")
}

// TestTLSLegacyExample runs examples/tls-legacy as written, on free ports,
// with a generated certificate: a TLS 1.0 client (an old AIR runtime) gets
// the policy inside TLS and reaches the plaintext backend.
func TestTLSLegacyExample(t *testing.T) {
	src, err := os.ReadFile("../examples/tls-legacy/flashgate.hcl")
	if err != nil {
		t.Fatal(err)
	}
	echo := startBackend(t, echoHandler)
	dir := t.TempDir()
	ca := tlstest.NewCert(t, "Example Root", true, nil)
	leaf := tlstest.NewCert(t, "localhost", false, ca, tlstest.DNSNames("localhost"))
	tlstest.WritePair(t, dir, "pair", leaf, ca)
	os.Rename(filepath.Join(dir, "pair.pem"), filepath.Join(dir, "cert.pem"))
	os.Rename(filepath.Join(dir, "pair.key"), filepath.Join(dir, "key.pem"))
	conf := strings.NewReplacer(`"127.0.0.1:9443"`, `"127.0.0.1:0"`, `"127.0.0.1:5000"`, `"`+echo+`"`).Replace(string(src))
	path := filepath.Join(dir, "flashgate.hcl")
	os.WriteFile(path, []byte(conf), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	gw, logs, stop := startGateway(t, cfg)
	addr := gw.Addr("game-tls").String()
	client := &tls.Config{RootCAs: tlstest.Pool(ca), ServerName: "localhost",
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}

	c, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatalf("TLS 1.0 handshake: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(policyRequest)
	answer, _ := io.ReadAll(c)
	c.Close()
	if !bytes.HasSuffix(answer, []byte("</cross-domain-policy>\n\x00")) {
		t.Fatalf("policy inside TLS: %q", answer)
	}

	c, err = tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("<join room=\"lobby\"/>\x00")
	c.Write(msg)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("through TLS to the plaintext backend: %q %v", back, err)
	}
	c.Close()
	stop()
	if !strings.Contains(logs.String(), "TLS 1.0") && !strings.Contains(strings.ToLower(logs.String()), "legacy") {
		t.Errorf("no warning for min_version 1.0 in the log:\n%s", logs)
	}
}
