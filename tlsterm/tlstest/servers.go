package tlstest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPResponder answers OCSP requests for one issuer on loopback: good for
// every serial unless revoked.
type OCSPResponder struct {
	URL      string
	Requests atomic.Int64
	issuer   *Cert
	mu       sync.Mutex
	revoked  map[string]time.Time
}

// NewOCSPResponder starts a responder signing with issuer's key.
func NewOCSPResponder(t testing.TB, issuer *Cert) *OCSPResponder {
	r := &OCSPResponder{issuer: issuer, revoked: map[string]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/ocsp"
	return r
}

// Revoke marks c revoked from an hour ago.
func (r *OCSPResponder) Revoke(c *Cert) {
	r.mu.Lock()
	r.revoked[c.Cert.SerialNumber.String()] = time.Now().Add(-time.Hour).Truncate(time.Second)
	r.mu.Unlock()
}

func (r *OCSPResponder) serve(w http.ResponseWriter, req *http.Request) {
	r.Requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q, err := ocsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	der, err := r.respond(q.SerialNumber)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(der)
}

func (r *OCSPResponder) respond(serial *big.Int) ([]byte, error) {
	now := time.Now().Truncate(time.Second)
	tmpl := ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: serial,
		ThisUpdate:   now.Add(-time.Minute),
		NextUpdate:   now.Add(time.Hour),
	}
	r.mu.Lock()
	if at, ok := r.revoked[serial.String()]; ok {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, at, ocsp.KeyCompromise
	}
	r.mu.Unlock()
	return ocsp.CreateResponse(r.issuer.Cert, r.issuer.Cert, tmpl, r.issuer.Key)
}

// Staple returns a current OCSP response for c, for a server to staple.
func (r *OCSPResponder) Staple(t testing.TB, c *Cert) []byte {
	t.Helper()
	der, err := r.respond(c.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// CRLServer serves a CRL of one issuer on loopback, signed fresh on each
// request.
type CRLServer struct {
	URL      string
	Requests atomic.Int64
	issuer   *Cert
	mu       sync.Mutex
	revoked  []x509.RevocationListEntry
}

// NewCRLServer starts a CRL server for issuer.
func NewCRLServer(t testing.TB, issuer *Cert) *CRLServer {
	s := &CRLServer{issuer: issuer}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/test.crl"
	return s
}

// Revoke lists c as revoked.
func (s *CRLServer) Revoke(c *Cert) {
	s.mu.Lock()
	s.revoked = append(s.revoked, x509.RevocationListEntry{
		SerialNumber:   c.Cert.SerialNumber,
		RevocationTime: time.Now().Add(-time.Hour).UTC().Truncate(time.Second),
		ReasonCode:     1,
	})
	s.mu.Unlock()
}

func (s *CRLServer) serve(w http.ResponseWriter, req *http.Request) {
	s.Requests.Add(1)
	now := time.Now()
	s.mu.Lock()
	entries := append([]x509.RevocationListEntry(nil), s.revoked...)
	s.mu.Unlock()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, s.issuer.Cert, s.issuer.Key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(der)
}

// DeadURL returns an http URL on loopback where nothing listens (the port
// was just bound and released), so fetches fail at once.
func DeadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/dead"
}

// Scenario is one loopback TLS server and the CertificateStatus a client
// verifying ServerName against the world's root should report.
type Scenario struct {
	Name       string
	Addr       string
	ServerName string
	Revocation string // "" (soft) or "required"
	Want       string // a CertificateStatus word
}

// World is a test PKI with one TLS server per status word (and a few more).
type World struct {
	Root, Inter *Cert
	CAFile      string // PEM file of Root
	OCSP        *OCSPResponder
	CRL         *CRLServer
	Scenarios   []Scenario
}

// NewWorld builds the PKI and starts every scenario's server on loopback.
// All leaves are named good.test.
func NewWorld(t testing.TB) *World {
	t.Helper()
	now := time.Now()
	root := NewCert(t, "Test Root", true, nil)
	inter := NewCert(t, "Test Intermediate", true, root)
	w := &World{Root: root, Inter: inter, CAFile: WriteCA(t, t.TempDir(), root)}
	w.OCSP = NewOCSPResponder(t, inter)
	w.CRL = NewCRLServer(t, inter)
	dead := DeadURL(t)
	other := NewCert(t, "Other Root", true, nil)
	nonCA := NewCert(t, "Not A CA", false, root, NotCA())

	add := func(name, want, serverName, revocation string, tc tls.Certificate) {
		addr := ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{tc}})
		w.Scenarios = append(w.Scenarios, Scenario{Name: name, Addr: addr, ServerName: serverName, Revocation: revocation, Want: want})
	}
	good := NewCert(t, "good.test", false, inter)
	add("trusted", "trusted", "good.test", "", TLSCert(good, inter))
	add("expired", "expired", "good.test", "",
		TLSCert(NewCert(t, "good.test", false, inter, Validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour))), inter))
	add("not yet valid", "notYetValid", "good.test", "",
		TLSCert(NewCert(t, "good.test", false, inter, Validity(now.Add(24*time.Hour), now.Add(48*time.Hour))), inter))
	add("wrong host", "principalMismatch", "other.test", "", TLSCert(good, inter))
	add("self-signed", "untrustedSigners", "good.test", "", TLSCert(NewCert(t, "good.test", false, nil)))
	add("unknown root", "untrustedSigners", "good.test", "", TLSCert(NewCert(t, "good.test", false, other), other))
	add("through non-CA", "invalidChain", "good.test", "", TLSCert(NewCert(t, "good.test", false, nonCA), nonCA))
	add("client-auth only", "invalid", "good.test", "",
		TLSCert(NewCert(t, "good.test", false, inter, ExtUsage(x509.ExtKeyUsageClientAuth)), inter))

	ocspGood := NewCert(t, "good.test", false, inter, OCSP(w.OCSP.URL))
	add("ocsp good", "trusted", "good.test", "required", TLSCert(ocspGood, inter))
	ocspRevoked := NewCert(t, "good.test", false, inter, OCSP(w.OCSP.URL))
	w.OCSP.Revoke(ocspRevoked)
	add("revoked by ocsp", "revoked", "good.test", "", TLSCert(ocspRevoked, inter))

	stapledRevoked := NewCert(t, "good.test", false, inter, OCSP(dead))
	w.OCSP.Revoke(stapledRevoked)
	tc := TLSCert(stapledRevoked, inter)
	tc.OCSPStaple = w.OCSP.Staple(t, stapledRevoked)
	add("revoked by staple", "revoked", "good.test", "required", tc)

	crlGood := NewCert(t, "good.test", false, inter, CRL(w.CRL.URL))
	add("crl good", "trusted", "good.test", "required", TLSCert(crlGood, inter))
	crlRevoked := NewCert(t, "good.test", false, inter, CRL(w.CRL.URL))
	w.CRL.Revoke(crlRevoked)
	add("revoked by crl", "revoked", "good.test", "", TLSCert(crlRevoked, inter))

	unreachable := NewCert(t, "good.test", false, inter, OCSP(dead), CRL(dead))
	add("no answer, required", "unknown", "good.test", "required", TLSCert(unreachable, inter))
	add("no answer, soft", "trusted", "good.test", "", TLSCert(unreachable, inter))
	return w
}
