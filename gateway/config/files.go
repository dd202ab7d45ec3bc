package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The files a config names besides policy files (flash.go reads those):
// certificates and keys of listener tls blocks, a backend's ca_file and
// acme's ca_root. Load reads and parses each one, so `flashgate validate`
// fails where `run` would, with the position of the attribute that named
// the file. Nothing here touches the network. Messages never quote a
// file's content: a path may point at a file that is not what it should be.

// checkCertPair reads a certificate and its key and parses them as a PEM
// pair the way the TLS listener does (tls.X509KeyPair), reporting an
// unreadable file at the attribute that named it and a pair that does not
// parse or match at key_file.
func (d *decoder) checkCertPair(certFile string, certRng hcl.Range, keyFile string, keyRng hcl.Range) {
	certPEM, cerr := readSmallFile(certFile)
	if cerr != nil {
		d.errorf(certRng, "", "cannot read cert_file %s: %v", certFile, cerr)
	}
	keyPEM, kerr := readSmallFile(keyFile)
	if kerr != nil {
		d.errorf(keyRng, "", "cannot read key_file %s: %v", keyFile, kerr)
	}
	if cerr != nil || kerr != nil {
		return
	}
	if _, err := parsePEMCerts(certPEM); err != nil {
		d.errorf(certRng, "", "cert_file %s: %v", certFile, err)
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		d.errorf(keyRng, "", "key_file %s does not fit cert_file %s: %s", keyFile, certFile, tlsErrText(err))
	}
}

// checkCAFile reads and parses a file of PEM CA certificates (a backend's
// ca_file, acme's ca_root), reporting at rng.
func (d *decoder) checkCAFile(name, file string, rng hcl.Range) {
	b, err := readSmallFile(file)
	if err != nil {
		d.errorf(rng, "", "cannot read %s %s: %v", name, file, err)
		return
	}
	if _, err := parsePEMCerts(b); err != nil {
		d.errorf(rng, "", "%s %s: %v", name, file, err)
	}
}

// parsePEMCerts parses every CERTIFICATE block of a PEM file; it fails when
// there is none or one does not parse. Other blocks (a key bundled with the
// certificate) are skipped, as tls.X509KeyPair does.
func parsePEMCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d is not a valid certificate", n)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate (\"-----BEGIN CERTIFICATE-----\") in the file")
	}
	return certs, nil
}

// tlsErrText is a crypto/tls error without its "tls: " prefix, which the
// message around it would double.
func tlsErrText(err error) string {
	return strings.TrimPrefix(err.Error(), "tls: ")
}
