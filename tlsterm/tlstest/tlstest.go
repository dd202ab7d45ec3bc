// Package tlstest makes a test PKI in Go and serves it on loopback: CAs and
// leaf certificates of every kind a CertificateStatus test needs, TLS
// servers presenting them, an OCSP responder and a CRL server. It is for
// tests only, like net/http/httptest.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The test PKI: every certificate is made here, in Go, per test.

// Opt changes a certificate template.
type Opt func(*x509.Certificate)

// Validity sets NotBefore and NotAfter.
func Validity(nb, na time.Time) Opt {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = nb, na }
}

// DNSNames sets the DNS names.
func DNSNames(n ...string) Opt { return func(c *x509.Certificate) { c.DNSNames = n } }

// OCSP sets the OCSP responder URL.
func OCSP(u string) Opt { return func(c *x509.Certificate) { c.OCSPServer = []string{u} } }

// CRL sets the CRL distribution point.
func CRL(u string) Opt {
	return func(c *x509.Certificate) { c.CRLDistributionPoints = []string{u} }
}

// NotCA makes a certificate that claims certSign but is not a CA.
func NotCA() Opt {
	return func(c *x509.Certificate) {
		c.IsCA = false
		c.BasicConstraintsValid = true
		c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	}
}

// PathLenZero limits a CA to sign leaves only.
func PathLenZero() Opt {
	return func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true }
}

// ExtUsage sets the extended key usages.
func ExtUsage(u ...x509.ExtKeyUsage) Opt { return func(c *x509.Certificate) { c.ExtKeyUsage = u } }

// PermittedDNS adds critical DNS name constraints.
func PermittedDNS(d ...string) Opt {
	return func(c *x509.Certificate) { c.PermittedDNSDomains = d; c.PermittedDNSDomainsCritical = true }
}

// Cert is a certificate and its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewKey makes an ECDSA P-256 key.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewCert makes a certificate named cn (also its DNS name for a leaf);
// parent nil means self-signed.
func NewCert(t testing.TB, cn string, ca bool, parent *Cert, opts ...Opt) *Cert {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"flashgate test"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
	if ca {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{cn}
	}
	for _, o := range opts {
		o(tmpl)
	}
	key := NewKey(t)
	signer, parentCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, parentCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatalf("create %s: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key}
}

// Pool makes a pool of the certificates.
func Pool(certs ...*Cert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Cert)
	}
	return p
}

// Chain lists the certificates.
func Chain(certs ...*Cert) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		out = append(out, c.Cert)
	}
	return out
}

// TLSCert builds a tls.Certificate presenting leaf then the given chain.
func TLSCert(leaf *Cert, chain ...*Cert) tls.Certificate {
	tc := tls.Certificate{PrivateKey: leaf.Key, Leaf: leaf.Cert}
	tc.Certificate = append(tc.Certificate, leaf.Cert.Raw)
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Cert.Raw)
	}
	return tc
}

// WritePair writes leaf (+chain) and its key as PEM files in dir.
func WritePair(t testing.TB, dir, name string, leaf *Cert, chain ...*Cert) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+".key")
	var certPEM []byte
	for _, c := range append([]*Cert{leaf}, chain...) {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})...)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func WriteCA(t testing.TB, dir string, cas ...*Cert) string {
	t.Helper()
	f := filepath.Join(dir, "ca.pem")
	var b []byte
	for _, c := range cas {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})...)
	}
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// ServeTLS runs a loopback TLS server presenting cert; it answers each
// connection by writing "hello\n" and closing. It returns the address.
func ServeTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				_, _ = tc.Write([]byte("hello\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

func randSerial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}
