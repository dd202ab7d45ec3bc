package upstream

import (
	"fmt"
	"time"

	"github.com/flashgate/flashgate/tlsterm"
)

// TLS is a backend's TLS origination: what its tls block says.
type TLS struct {
	ServerName string // the name verified and sent as SNI; "": the host dialed
	CAFile     string // PEM file of trusted roots; "": the system roots
	Require    string // "trusted" (default, ""): anything else is refused; "report": only reported
	Revocation string // "soft" (default, ""), "required" or "off"
}

// NewTLSDialer builds the TLS origination of the named backend: its
// handshakes (with revocation checks) are bounded by timeout, and checker
// is shared by every backend's dialer so they share one cache. The caller
// runs the dialer's Client on a connection from Dial (after a PROXY header,
// if the backend wants one).
func NewTLSDialer(backend string, t TLS, timeout time.Duration, checker *tlsterm.RevocationChecker) (*tlsterm.Dialer, error) {
	req, err := tlsterm.ParseRequire(t.Require)
	if err != nil {
		return nil, fmt.Errorf("backend %q: tls: %w", backend, err)
	}
	mode, err := tlsterm.ParseRevocationMode(t.Revocation)
	if err != nil {
		return nil, fmt.Errorf("backend %q: tls: %w", backend, err)
	}
	d := &tlsterm.Dialer{ServerName: t.ServerName, Require: req, Revocation: mode, Timeout: timeout, Checker: checker}
	if t.CAFile != "" {
		pool, err := tlsterm.LoadCAFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("backend %q: tls: %w", backend, err)
		}
		d.RootCAs = pool
	}
	return d, nil
}
