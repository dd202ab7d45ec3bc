package admin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTally(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &Status{Time: now,
		Listeners: []ListenerStatus{{Name: "a", Active: 3}, {Name: "b", Active: 4}},
		Backends: []BackendStatus{
			{Name: "x", Servers: []ServerStatus{{Up: true}, {Up: false}}},
			{Name: "echo", Builtin: "echo"},
		},
		Certificates: []Certificate{
			{Listener: "a", NotAfter: now.Add(80*24*time.Hour + time.Hour)},
			{Listener: "a", NotAfter: now.Add(9*24*time.Hour + time.Hour)},
			{Listener: "b", NotAfter: now.Add(-48 * time.Hour)}, // expired counts as expiring
			{Listener: "b", ACME: true, DaysLeft: -1},           // unknown expiry
		},
		UDP: []UDPStatus{{Name: "v", Sessions: 5}, {Name: "w", Sessions: 2}},
	}
	s.Tally()
	s.Tally() // idempotent
	if s.TotalActive != 7 || s.ServersUp != 1 || s.ServersTotal != 2 || s.CertsExpiring != 2 || s.UDPSessions != 7 {
		t.Errorf("tallies: active %d, up %d/%d, expiring %d, udp %d", s.TotalActive, s.ServersUp, s.ServersTotal,
			s.CertsExpiring, s.UDPSessions)
	}
	if d := []int{s.Certificates[0].DaysLeft, s.Certificates[1].DaysLeft, s.Certificates[2].DaysLeft, s.Certificates[3].DaysLeft}; d[0] != 80 || d[1] != 9 || d[2] != -2 || d[3] != -1 {
		t.Errorf("days left %v, want [80 9 -2 -1]", d)
	}
	b, _ := json.Marshal(s)
	for _, want := range []string{`"connections_total":{}`, `"rejections_total":{}`, `"servers":[]`, `"names":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: nil became null\n%s", want, b)
		}
	}
	for _, leak := range []string{"TotalActive", "ServersUp", "CertsExpiring", "UDPSessions"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("page-only field %s in the JSON", leak)
		}
	}

	var empty Status
	empty.Tally()
	b, _ = json.Marshal(&empty)
	for _, want := range []string{`"listeners":[]`, `"backends":[]`, `"certificates":[]`, `"udp":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("empty document lacks %s:\n%s", want, b)
		}
	}
	if empty.Time.IsZero() {
		t.Error("Tally left Time zero")
	}
}

// writeCert writes a self-signed certificate (names may be DNS names or IP
// addresses) as PEM, after a key block so the reader must skip it.
func writeCert(t *testing.T, cn string, names ...string) (string, time.Time) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	f := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, notAfter.UTC()
}

func TestCertificateFromFile(t *testing.T) {
	f, notAfter := writeCert(t, "ignored.example", "chat.example.com", "192.0.2.7")
	c := CertificateFromFile("chat", f)
	if c.Error != "" || c.Listener != "chat" || c.File != f || strings.Join(c.Names, ",") != "chat.example.com,192.0.2.7" ||
		c.Issuer != "ignored.example" || !c.NotAfter.Equal(notAfter) || c.DaysLeft != -1 {
		t.Errorf("certificate: %+v", c)
	}
	f, _ = writeCert(t, "only-cn.example")
	if c := CertificateFromFile("chat", f); strings.Join(c.Names, ",") != "only-cn.example" {
		t.Errorf("names without SANs: %v, want the common name", c.Names)
	}
	if c := CertificateFromFile("chat", filepath.Join(t.TempDir(), "missing.pem")); c.Error == "" || c.Names == nil {
		t.Errorf("missing file: %+v", c)
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := CertificateFromFile("chat", junk); c.Error != "no CERTIFICATE block" {
		t.Errorf("junk file: %+v", c)
	}
}
