package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ErrUntrusted is wrapped by the error a Dialer with RequireTrusted returns
// when the backend's certificate status is not trusted.
var ErrUntrusted = errors.New("certificate not trusted")

// Require says what a Dialer does with a non-trusted certificate.
type Require string

// Require values.
const (
	// RequireTrusted refuses anything but trusted (the default).
	RequireTrusted Require = "trusted"
	// RequireReport connects anyway and only reports the status.
	RequireReport Require = "report"
)

// ParseRequire parses "trusted" or "report"; "" is trusted.
func ParseRequire(s string) (Require, error) {
	switch r := Require(s); r {
	case "", RequireTrusted:
		return RequireTrusted, nil
	case RequireReport:
		return r, nil
	}
	return "", fmt.Errorf("require %q: want trusted or report", s)
}

// Result is what a Dialer learned about the server's certificate.
type Result struct {
	Status      Status
	Detail      Detail
	ServerName  string // the name verified against
	Version     uint16 // negotiated TLS version (tls.VersionTLS12, ...)
	CipherSuite uint16
}

// StatusError is the error of a refused connection; it wraps ErrUntrusted
// and carries the result.
type StatusError struct {
	Result Result
}

func (e *StatusError) Error() string {
	msg := "certificate status " + string(e.Result.Status)
	if e.Result.Detail.Reason != "" {
		msg += ": " + e.Result.Detail.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrUntrusted) true.
func (e *StatusError) Unwrap() error { return ErrUntrusted }

// Dialer originates TLS connections and classifies the server's
// certificate in AIR's words. The zero value dials with the system roots,
// requires trusted, checks revocation softly and times out after 10s.
// A Dialer is safe for concurrent use; do not copy it after first use.
type Dialer struct {
	// ServerName is the name to verify (and send as SNI); empty means the
	// host of the dialed address (or, for Client, of the peer address).
	ServerName string
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// Require is RequireTrusted ("" too) or RequireReport.
	Require Require
	// Revocation is the revocation mode; "" is soft.
	Revocation RevocationMode
	// Timeout bounds dial, handshake and revocation checks together
	// (default 10s). The context may shorten it.
	Timeout time.Duration
	// MinVersion is the lowest TLS version offered (default: Go's, 1.2).
	MinVersion uint16
	// NextProtos are ALPN protocols to offer.
	NextProtos []string
	// Checker is the revocation checker; nil means one owned by the Dialer,
	// created at first use. Share one among Dialers to share the cache.
	Checker *RevocationChecker
	// NetDialer dials TCP; nil means a plain net.Dialer.
	NetDialer *net.Dialer

	once    sync.Once
	checker *RevocationChecker
}

const defaultDialTimeout = 10 * time.Second

func (d *Dialer) revocationChecker() *RevocationChecker {
	if d.Checker != nil {
		return d.Checker
	}
	d.once.Do(func() { d.checker = NewRevocationChecker(RevocationOptions{}) })
	return d.checker
}

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return defaultDialTimeout
}

// DialContext dials addr over network ("tcp", "tcp4", "tcp6"), makes the
// TLS handshake and classifies the certificate. On a refused status the
// error wraps ErrUntrusted (as a *StatusError) and the Result is still
// returned; the connection is then closed and nil.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (*tls.Conn, Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	nd := d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, Result{}, fmt.Errorf("tls dial %s: %w", addr, err)
	}
	name := d.ServerName
	if name == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			name = host
		}
	}
	conn, res, err := d.client(ctx, raw, name)
	if err != nil {
		return nil, res, fmt.Errorf("tls dial %s: %w", addr, err)
	}
	return conn, res, nil
}

// Client makes a TLS handshake over an already connected raw conn and
// classifies the certificate, like DialContext. On error raw is closed.
func (d *Dialer) Client(ctx context.Context, raw net.Conn) (*tls.Conn, Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	name := d.ServerName
	if name == "" && raw.RemoteAddr() != nil {
		if host, _, err := net.SplitHostPort(raw.RemoteAddr().String()); err == nil {
			name = host
		}
	}
	return d.client(ctx, raw, name)
}

func (d *Dialer) client(ctx context.Context, raw net.Conn, name string) (*tls.Conn, Result, error) {
	res := Result{ServerName: name}
	classified := false
	require := d.Require
	if require == "" {
		require = RequireTrusted
	}
	opts := VerifyOptions{
		ServerName: name,
		Roots:      d.RootCAs,
		Revocation: d.Revocation,
		Checker:    d.revocationChecker(),
	}
	cfg := &tls.Config{
		ServerName: name,
		// We verify ourselves, in VerifyConnection, to classify instead of
		// just failing; Go's verification would stop at the first error.
		InsecureSkipVerify: true,
		MinVersion:         d.MinVersion,
		NextProtos:         d.NextProtos,
		VerifyConnection: func(cs tls.ConnectionState) error {
			res.Status, res.Detail = ClassifyConnection(ctx, cs, opts)
			res.Version, res.CipherSuite = cs.Version, cs.CipherSuite
			classified = true
			if res.Status != Trusted && require == RequireTrusted {
				return &StatusError{Result: res}
			}
			return nil
		},
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		var se *StatusError
		if errors.As(err, &se) {
			return nil, res, err
		}
		if !classified {
			res = Result{ServerName: name}
		}
		return nil, res, fmt.Errorf("tls handshake with %s: %w", name, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return conn, res, nil
}

// LoadCAFile reads PEM certificates from path into a new pool (the system
// roots are not included).
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate found", path)
	}
	return p, nil
}
