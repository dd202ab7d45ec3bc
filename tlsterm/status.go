package tlsterm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Status is a certificate status in AIR's words (flash.security.CertificateStatus).
// AIR's SecureSocket connects only when the status is Trusted.
type Status string

// The nine CertificateStatus values, spelled exactly as AIR spells them.
const (
	Trusted           Status = "trusted"
	Expired           Status = "expired"
	NotYetValid       Status = "notYetValid"
	Invalid           Status = "invalid"
	InvalidChain      Status = "invalidChain"
	PrincipalMismatch Status = "principalMismatch"
	Revoked           Status = "revoked"
	Unknown           Status = "unknown"
	UntrustedSigners  Status = "untrustedSigners"
)

// Statuses lists every Status, in AIR's documentation order.
func Statuses() []Status {
	return []Status{Trusted, Expired, NotYetValid, Invalid, InvalidChain,
		PrincipalMismatch, Revoked, Unknown, UntrustedSigners}
}

// Valid reports whether s is one of the nine words.
func (s Status) Valid() bool {
	for _, v := range Statuses() {
		if s == v {
			return true
		}
	}
	return false
}

func (s Status) String() string { return string(s) }

// Detail describes the certificate a status was given to and why.
type Detail struct {
	Subject   string    // leaf subject, RFC 2253 form
	Issuer    string    // leaf issuer, RFC 2253 form
	DNSNames  []string  // leaf DNS names
	NotBefore time.Time // leaf validity
	NotAfter  time.Time
	// Reason says why the status is not trusted, in one line; for trusted it
	// is empty.
	Reason string
	// Revocation says how revocation was checked and with which answer
	// ("good (ocsp staple)", "not checked: ...", "off").
	Revocation string
}

// VerifyOptions are the inputs of Classify besides the chain.
type VerifyOptions struct {
	// ServerName is the name the certificate must be valid for: a DNS name
	// or an IP address. Empty skips the name check.
	ServerName string
	// Roots are the trusted roots; nil means the system roots.
	Roots *x509.CertPool
	// Now is the time to check validity at; zero means time.Now().
	Now time.Time
	// Revocation is the revocation mode; "" means RevocationSoft.
	Revocation RevocationMode
	// Checker fetches and caches OCSP answers and CRLs. Share one between
	// calls to benefit from its cache; nil means a fresh one (no cache)
	// with default limits.
	Checker *RevocationChecker
	// OCSPStaple is the stapled OCSP response the server sent, if any.
	OCSPStaple []byte
}

// ClassifyConnection classifies the peer certificates of a TLS connection,
// using the stapled OCSP response if the server sent one. The handshake
// should have been made with InsecureSkipVerify: this function verifies.
func ClassifyConnection(ctx context.Context, cs tls.ConnectionState, opts VerifyOptions) (Status, Detail) {
	if len(opts.OCSPStaple) == 0 {
		opts.OCSPStaple = cs.OCSPResponse
	}
	return Classify(ctx, cs.PeerCertificates, opts)
}

// Classify verifies a presented chain (leaf first, as sent by the server)
// and returns AIR's status for it, with details. It never panics on bad
// input: an empty chain or nil leaf is Invalid.
//
// The mapping: hostname errors are principalMismatch,
// unknown authorities untrustedSigners unless the presented chain reaches a
// trusted root through a certificate that may not sign (invalidChain), time
// errors expired or notYetValid, chain constraint errors invalidChain, other
// errors invalid, and, once the chain is trusted, revocation decides between
// trusted, revoked and (in required mode) unknown.
func Classify(ctx context.Context, chain []*x509.Certificate, opts VerifyOptions) (Status, Detail) {
	if len(chain) == 0 || chain[0] == nil {
		return Invalid, Detail{Reason: "no certificate presented"}
	}
	leaf := chain[0]
	d := Detail{
		Subject:   leaf.Subject.String(),
		Issuer:    leaf.Issuer.String(),
		DNSNames:  leaf.DNSNames,
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	vo := x509.VerifyOptions{
		DNSName:       opts.ServerName,
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	chains, err := leaf.Verify(vo)
	if err != nil {
		st, reason := mapVerifyError(err, chain, opts.Roots, now)
		d.Reason = reason
		d.Revocation = "not checked: certificate not trusted"
		return st, d
	}
	st, rev := checkChainRevocation(ctx, chains[0], opts, now)
	d.Revocation = rev
	switch st {
	case Revoked:
		d.Reason = rev
	case Unknown:
		d.Reason = "revocation required: " + rev
	}
	return st, d
}

// mapVerifyError turns a crypto/x509 verification error into a Status and a
// one-line reason.
func mapVerifyError(err error, chain []*x509.Certificate, roots *x509.CertPool, now time.Time) (Status, string) {
	var (
		hostErr  x509.HostnameError
		uaErr    x509.UnknownAuthorityError
		invErr   x509.CertificateInvalidError
		rootsErr x509.SystemRootsError
	)
	switch {
	case errors.As(err, &hostErr):
		return PrincipalMismatch, err.Error()
	case errors.As(err, &invErr):
		return mapInvalid(invErr, now)
	case errors.As(err, &uaErr):
		if st, reason, ok := inspectChain(chain, roots, now, err); ok {
			return st, reason
		}
		return UntrustedSigners, err.Error()
	case errors.As(err, &rootsErr):
		return UntrustedSigners, err.Error()
	}
	return Invalid, err.Error()
}

func mapInvalid(e x509.CertificateInvalidError, now time.Time) (Status, string) {
	switch e.Reason {
	case x509.Expired:
		if e.Cert != nil && now.Before(e.Cert.NotBefore) {
			return NotYetValid, e.Error()
		}
		return Expired, e.Error()
	case x509.NotAuthorizedToSign, x509.TooManyIntermediates,
		x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage,
		x509.TooManyConstraints, x509.UnconstrainedName,
		x509.NameConstraintsWithoutSANs, x509.NameMismatch:
		return InvalidChain, e.Error()
	}
	// IncompatibleUsage and anything new: the certificate itself is unfit.
	return Invalid, e.Error()
}

// inspectChain looks at the chain as presented when Go reports an unknown
// authority. Go's chain builder drops candidate issuers that may not sign
// (not a CA, path length exceeded, key usage without certSign, name
// constraints, outside their validity) and then reports the leaf as signed
// by an unknown authority; AIR calls a chain that does reach a trusted root
// that way invalidChain (or expired for an expired intermediate). It follows
// the presented certificates by signature alone, finds the first one that
// is a trusted root or directly issued by one, and judges the signers on the
// way. ok is false when no presented certificate leads to a trusted root:
// then the signers are truly untrusted.
func inspectChain(chain []*x509.Certificate, roots *x509.CertPool, now time.Time, verr error) (Status, string, bool) {
	path := signaturePath(chain)
	anchor := -1
	for j := 1; j < len(path); j++ {
		if anchored(path[j], roots) {
			anchor = j
			break
		}
	}
	if anchor < 0 {
		return "", "", false
	}
	for k := 1; k <= anchor; k++ {
		if reason := maySign(path[k], k-1); reason != "" {
			return InvalidChain, fmt.Sprintf("chain reaches a trusted root through %q, which %s", path[k].Subject.String(), reason), true
		}
	}
	for k := 1; k <= anchor; k++ {
		c := path[k]
		if now.Before(c.NotBefore) {
			return NotYetValid, fmt.Sprintf("issuer certificate %q is not valid before %s", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339)), true
		}
		if now.After(c.NotAfter) {
			return Expired, fmt.Sprintf("issuer certificate %q expired at %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339)), true
		}
	}
	// Signed all the way to a trusted root by CAs that may sign and are
	// in time: what Go refused is a constraint of the chain.
	return InvalidChain, "chain reaches a trusted root but breaks its constraints: " + verr.Error(), true
}

// signaturePath follows the presented chain from the leaf, each step to a
// presented certificate whose subject is the issuer's name and whose key
// made the signature, ignoring whether it is allowed to sign.
func signaturePath(chain []*x509.Certificate) []*x509.Certificate {
	path := []*x509.Certificate{chain[0]}
	used := map[*x509.Certificate]bool{chain[0]: true}
	cur := chain[0]
	for len(path) < len(chain) {
		var next *x509.Certificate
		for _, c := range chain[1:] {
			if c == nil || used[c] || !bytes.Equal(cur.RawIssuer, c.RawSubject) {
				continue
			}
			if c.CheckSignature(cur.SignatureAlgorithm, cur.RawTBSCertificate, cur.Signature) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		path = append(path, next)
		used[next] = true
		cur = next
	}
	return path
}

// anchored reports whether c is a trusted root or is validly issued by one
// directly, judged at a moment inside c's own validity so that time
// problems are reported separately.
func anchored(c *x509.Certificate, roots *x509.CertPool) bool {
	mid := c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2)
	_, err := c.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: mid,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// maySign says why c may not sign a certificate that has below CAs under
// it in the chain, or "" if it may.
func maySign(c *x509.Certificate, below int) string {
	switch {
	case c.Version == 3 && !c.BasicConstraintsValid:
		return "has no basic constraints (not a CA)"
	case c.BasicConstraintsValid && !c.IsCA:
		return "is not a CA"
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
		return "has no certSign key usage"
	case c.BasicConstraintsValid && c.MaxPathLen >= 0 && below > c.MaxPathLen:
		return fmt.Sprintf("allows a path length of %d, exceeded by %d", c.MaxPathLen, below)
	}
	return ""
}
