// Package tlsterm is flashgate's TLS room: it terminates TLS for Flash-era
// clients (static certificates chosen by SNI, or ACME through certmagic),
// originates TLS to backends, and reports the backend's certificate in the
// words of AIR's flash.security.CertificateStatus (trusted, expired,
// notYetValid, invalid, invalidChain, principalMismatch, revoked, unknown,
// untrustedSigners), checking revocation with OCSP and CRLs.
//
// It knows nothing of HCL or of the gateway: plain Go structs in, plain
// values out, and no global state.
//
// Typical use, originating:
//
//	roots, err := tlsterm.LoadCAFile("internal-ca.pem")
//	d := &tlsterm.Dialer{ServerName: "chat.internal", RootCAs: roots,
//		Require: tlsterm.RequireTrusted, Timeout: 5 * time.Second}
//	conn, res, err := d.DialContext(ctx, "tcp", "10.0.0.5:5443")
//	// res.Status is the CertificateStatus word; with RequireTrusted a
//	// non-trusted status is an error wrapping ErrUntrusted.
//
// Classifying a chain someone else obtained:
//
//	st, detail := tlsterm.Classify(ctx, chain, tlsterm.VerifyOptions{ServerName: "chat.internal"})
//
// Terminating:
//
//	term, err := tlsterm.NewTerminator(tlsterm.TermConfig{
//		Certs: []tlsterm.CertPair{{CertFile: "chat.pem", KeyFile: "chat.key"}},
//	}, log)
//	ln = tls.NewListener(ln, term.TLSConfig())
//	// on SIGHUP: term.Reload()
package tlsterm
