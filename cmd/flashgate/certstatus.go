package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/flashgate/flashgate/tlsterm"
)

// cmdCertStatus implements "flashgate certstatus": it connects with TLS,
// classifies the server's certificate in AIR's CertificateStatus words and
// prints the word first. Exit 0 only for trusted.
func cmdCertStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("certstatus", stderr)
	serverName := fs.String("servername", "", "`NAME` to verify and send as SNI (default: HOST)")
	caFile := fs.String("ca", "", "PEM `FILE` of trusted roots (default: the system roots)")
	revocation := fs.String("revocation", "soft", "revocation check `MODE`: off, soft or required")
	timeout := fs.Duration("timeout", 10*time.Second, "connect, handshake and revocation timeout `D`")
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		return fs.usageError("want one HOST:PORT")
	}
	addr := pos[0]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		fmt.Fprintf(stderr, "flashgate certstatus: %q: want HOST:PORT\n", addr)
		return 2
	}
	mode, err := tlsterm.ParseRevocationMode(*revocation)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate certstatus: %v\n", err)
		return 2
	}
	var roots *x509.CertPool
	if *caFile != "" {
		if roots, err = tlsterm.LoadCAFile(*caFile); err != nil {
			fmt.Fprintf(stderr, "flashgate certstatus: %v\n", err)
			return 1
		}
	}
	d := &tlsterm.Dialer{
		ServerName: *serverName,
		RootCAs:    roots,
		Require:    tlsterm.RequireReport,
		Revocation: mode,
		Timeout:    *timeout,
	}
	conn, res, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil && res.Status == "" {
		fmt.Fprintf(stderr, "flashgate certstatus: %v\n", err)
		return 1
	}
	if conn != nil {
		conn.Close()
	}
	printResult(stdout, res)
	if err != nil && !errors.Is(err, tlsterm.ErrUntrusted) {
		fmt.Fprintf(stderr, "flashgate certstatus: %v\n", err)
	}
	if res.Status != tlsterm.Trusted {
		return 1
	}
	return 0
}

func printResult(w io.Writer, res tlsterm.Result) {
	d := res.Detail
	fmt.Fprintln(w, res.Status)
	fmt.Fprintf(w, "subject:    %s\n", d.Subject)
	fmt.Fprintf(w, "issuer:     %s\n", d.Issuer)
	if len(d.DNSNames) > 0 {
		fmt.Fprintf(w, "names:      %v\n", d.DNSNames)
	}
	fmt.Fprintf(w, "valid:      %s to %s\n", d.NotBefore.UTC().Format(time.RFC3339), d.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "verified:   %s\n", res.ServerName)
	if d.Reason != "" {
		fmt.Fprintf(w, "reason:     %s\n", d.Reason)
	}
	if d.Revocation != "" {
		fmt.Fprintf(w, "revocation: %s\n", d.Revocation)
	}
}
