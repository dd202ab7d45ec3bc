package tlsterm

import (
	"crypto/tls"
	"fmt"
)

// ParseTLSVersion parses "1.0", "1.1", "1.2" or "1.3"; "" is "1.2".
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version %q: want 1.0, 1.1, 1.2 or 1.3", s)
}

// legacyCipherSuites are the suites a server with min_version 1.0 or 1.1
// offers. Go ≥ 1.22 leaves RSA key exchange out of its defaults (and the
// ECDHE-CBC suites are the only forward-secret ones TLS 1.0/1.1 clients
// have), so the list is explicit: modern AEAD suites first for modern
// clients, then ECDHE with CBC, then RSA key exchange for the oldest AIR
// runtimes. 3DES and RC4 stay out.
var legacyCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// LegacyCipherSuites returns a copy of the suites set for min_version 1.0/1.1.
func LegacyCipherSuites() []uint16 { return append([]uint16(nil), legacyCipherSuites...) }
