package tlsterm

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

const opensslPath = "/usr/bin/openssl"

// sClient runs openssl s_client against addr with extra args and returns
// its combined output and whether it exited 0.
func sClient(t *testing.T, addr string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := append([]string{"s_client", "-connect", addr, "-servername", "legacy.test"}, args...)
	cmd := exec.CommandContext(ctx, opensslPath, all...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

var newRe = regexp.MustCompile(`New, (\S+), Cipher is (\S+)`)

// negotiated returns the protocol of the session s_client established, or
// "" when no cipher was agreed.
func negotiated(out string) string {
	m := newRe.FindStringSubmatch(out)
	if m == nil || m[2] == "(NONE)" || m[1] == "(NONE)" {
		return ""
	}
	return m[1]
}

// TestOpenSSLInterop: openssl s_client against Terminator-backed loopback
// listeners: a default (1.2) one refuses TLS 1.0, a legacy (min_version
// "1.0") one accepts it.
func TestOpenSSLInterop(t *testing.T) {
	if _, err := os.Stat(opensslPath); err != nil {
		t.Skipf("SKIP: %s not installed (apt-get install openssl): TLS interop not tested", opensslPath)
	}
	dir := t.TempDir()
	cf, kf := tlstest.WritePair(t, dir, "legacy", tlstest.NewCert(t, "legacy.test", false, nil))
	logger, _ := testLogger(t)
	newTerm := func(min string) string {
		term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}, MinVersion: min}, logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { term.Close() })
		return serveTerminator(t, term)
	}
	legacy, modern := newTerm("1.0"), newTerm("")

	// Modern TLS works on both.
	for _, addr := range []string{legacy, modern} {
		out, ok := sClient(t, addr)
		if !ok || !strings.HasPrefix(negotiated(out), "TLSv1.") {
			t.Fatalf("plain s_client to %s failed:\n%s", addr, out)
		}
	}

	// TLS 1.0 against the legacy listener: openssl 3 refuses TLS 1.0 at its
	// default security level, so lower it if needed.
	var tls10Args []string
	out, ok := sClient(t, legacy, "-tls1")
	if !ok || !isTLS10(negotiated(out)) {
		tls10Args = []string{"-cipher", "DEFAULT@SECLEVEL=0"}
		out, ok = sClient(t, legacy, append([]string{"-tls1"}, tls10Args...)...)
	}
	if !ok || !isTLS10(negotiated(out)) {
		if strings.Contains(out, "no protocols available") || strings.Contains(out, "unknown option") {
			t.Skipf("SKIP: this machine's openssl cannot offer TLS 1.0 even at SECLEVEL=0; TLS 1.0 interop not tested:\n%s", out)
		}
		t.Fatalf("legacy listener refused TLS 1.0:\n%s", out)
	}
	t.Logf("legacy listener: TLS 1.0 accepted (%v)", tls10Args)

	// The oldest AIR runtimes know only RSA key exchange: an RSA
	// certificate on the legacy listener serves TLS_RSA_WITH_AES_128_CBC_SHA.
	rsaAddr := serveRSALegacy(t)
	out, ok = sClient(t, rsaAddr, "-tls1", "-cipher", "AES128-SHA@SECLEVEL=0")
	if !ok || !strings.Contains(out, "Cipher is AES128-SHA") {
		t.Fatalf("RSA key exchange over TLS 1.0 refused:\n%s", out)
	}

	// The same client against the default listener is refused by the server.
	out, ok = sClient(t, modern, append([]string{"-tls1"}, tls10Args...)...)
	if ok || isTLS10(negotiated(out)) {
		t.Fatalf("default listener accepted TLS 1.0:\n%s", out)
	}
	if !strings.Contains(out, "protocol version") && !strings.Contains(out, "alert") {
		t.Logf("refusal without a protocol_version alert:\n%s", out)
	}
}

// serveRSALegacy serves an RSA certificate through a min_version 1.0
// Terminator and returns its address.
func serveRSALegacy(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(77),
		Subject:      pkix.Name{CommonName: "legacy.test"},
		DNSNames:     []string{"legacy.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "rsa.key")
	if err := os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, _ := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}, MinVersion: "1.0"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return serveTerminator(t, term)
}

func isTLS10(p string) bool { return p == "TLSv1" || p == "TLSv1.0" }
