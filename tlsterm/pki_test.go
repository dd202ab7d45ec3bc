package tlsterm

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
	"sync/atomic"
	"testing"
	"time"
)

// The test PKI: every certificate is made here, in Go, per test.

var serialCounter atomic.Int64

type certOpt func(*x509.Certificate)

func validity(nb, na time.Time) certOpt {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = nb, na }
}

func dnsNames(n ...string) certOpt { return func(c *x509.Certificate) { c.DNSNames = n } }

func ocspURL(u string) certOpt { return func(c *x509.Certificate) { c.OCSPServer = []string{u} } }

func crlURL(u string) certOpt {
	return func(c *x509.Certificate) { c.CRLDistributionPoints = []string{u} }
}

func notCA() certOpt {
	return func(c *x509.Certificate) {
		c.IsCA = false
		c.BasicConstraintsValid = true
		c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	}
}

func pathLenZero() certOpt {
	return func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true }
}

func extUsage(u ...x509.ExtKeyUsage) certOpt { return func(c *x509.Certificate) { c.ExtKeyUsage = u } }

func permittedDNS(d ...string) certOpt {
	return func(c *x509.Certificate) { c.PermittedDNSDomains = d; c.PermittedDNSDomainsCritical = true }
}

// testCert is a certificate and its key.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mkCert makes a certificate; parent nil means self-signed.
func mkCert(t testing.TB, cn string, ca bool, parent *testCert, opts ...certOpt) *testCert {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + serialCounter.Add(1)),
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
	key := newKey(t)
	signer, parentCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatalf("create %s: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func pool(certs ...*testCert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.cert)
	}
	return p
}

func chainOf(certs ...*testCert) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		out = append(out, c.cert)
	}
	return out
}

// tlsCert builds a tls.Certificate presenting leaf then the given chain.
func tlsCert(leaf *testCert, chain ...*testCert) tls.Certificate {
	tc := tls.Certificate{PrivateKey: leaf.key, Leaf: leaf.cert}
	tc.Certificate = append(tc.Certificate, leaf.cert.Raw)
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.cert.Raw)
	}
	return tc
}

// writePair writes leaf (+chain) and its key as PEM files in dir.
func writePair(t testing.TB, dir, name string, leaf *testCert, chain ...*testCert) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+".key")
	var certPEM []byte
	for _, c := range append([]*testCert{leaf}, chain...) {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(leaf.key)
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

func writeCA(t testing.TB, dir string, cas ...*testCert) string {
	t.Helper()
	f := filepath.Join(dir, "ca.pem")
	var b []byte
	for _, c := range cas {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// serveTLS runs a loopback TLS server presenting cert; it answers each
// connection by writing "hello\n" and closing. It returns the address.
func serveTLS(t testing.TB, cfg *tls.Config) string {
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
