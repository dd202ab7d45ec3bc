// Package tlsterm is flashgate's TLS room: it terminates TLS for Flash-era
// clients (static certificates chosen by SNI, or ACME through certmagic),
// originates TLS to backends, and reports the backend's certificate in the
// words of AIR's flash.security.CertificateStatus (trusted, expired,
// notYetValid, invalid, invalidChain, principalMismatch, revoked, unknown,
// untrustedSigners), checking revocation with OCSP (stapled or fetched) and
// CRLs.
//
// It knows nothing of HCL or of the gateway: plain Go structs in, plain
// values out, and no global state of its own (certmagic keeps some).
//
// Typical use, originating to a backend:
//
//	roots, err := tlsterm.LoadCAFile("internal-ca.pem")
//	d := &tlsterm.Dialer{ServerName: "chat.internal", RootCAs: roots,
//		Require: tlsterm.RequireTrusted, Timeout: 5 * time.Second}
//	conn, res, err := d.DialContext(ctx, "tcp", "10.0.0.5:5443")
//	// res.Status is the CertificateStatus word, res.Detail says why. With
//	// RequireTrusted a non-trusted status is an error wrapping ErrUntrusted.
//
// Classifying a chain obtained elsewhere (handshake made with
// InsecureSkipVerify):
//
//	st, detail := tlsterm.ClassifyConnection(ctx, conn.ConnectionState(),
//		tlsterm.VerifyOptions{ServerName: "chat.internal", Roots: roots})
//
// Terminating:
//
//	term, err := tlsterm.NewTerminator(tlsterm.TermConfig{
//		Certs: []tlsterm.CertPair{{CertFile: "chat.pem", KeyFile: "chat.key"}},
//	}, log)
//	defer term.Close()
//	ln = tls.NewListener(ln, term.TLSConfig())
//	// on SIGHUP: term.Reload(); for /status: term.Certificates()
//
// Package tlstest holds the test PKI (CAs, leaves of every status, an OCSP
// responder and a CRL server on loopback) for this package's and the CLI's
// tests.
package tlsterm
