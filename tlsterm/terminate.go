package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/rs/zerolog"
)

// CertPair names a certificate file (PEM, leaf first, then its chain) and
// its key file.
type CertPair struct {
	CertFile string
	KeyFile  string
}

// TermConfig configures a Terminator.
type TermConfig struct {
	// Certs are static certificates; SNI picks one by the names in each
	// (DNS names, IP addresses, "*.example.com" wildcards); the first is the
	// default for clients without SNI or with an unknown name.
	Certs []CertPair
	// ACMENames are names to obtain certificates for through ACME; they
	// need ACME.
	ACMENames []string
	// ACME configures the ACME issuer for ACMENames.
	ACME *ACMEConfig
	// MinVersion is the lowest TLS version accepted: "1.0", "1.1", "1.2"
	// (default) or "1.3". "1.0" and "1.1" also set explicit legacy cipher
	// suites and give a warning.
	MinVersion string
	// NextProtos are the ALPN protocols offered; nil negotiates none, which
	// every client accepts.
	NextProtos []string
}

// ACMEConfig configures certificate issuance through ACME (certmagic).
type ACMEConfig struct {
	Email string
	// CA is the ACME directory URL; empty means certmagic's default
	// (Let's Encrypt production).
	CA string
	// CARoot is a PEM file of an extra root to trust for the CA's own API
	// (e.g. Pebble's), added to the system roots.
	CARoot string
	// StoragePath is certmagic's file storage directory; a shared volume
	// makes a cluster.
	StoragePath string
	// Storage overrides StoragePath (e.g. Redis storage shared by several
	// instances). Neither set: memory only, certificates are not kept.
	Storage certmagic.Storage

	// Challenge knobs, passed to certmagic.ACMEIssuer.
	DisableHTTPChallenge    bool
	DisableTLSALPNChallenge bool
	ListenHost              string // where certmagic binds its challenge listeners
	AltHTTPPort             int    // instead of 80
	AltTLSALPNPort          int    // instead of 443
}

// CertInfo describes one served certificate, for the admin status page.
type CertInfo struct {
	Names    []string
	Issuer   string
	NotAfter time.Time
	Source   string // "file:PATH" or "acme"
}

// Terminator serves TLS with static certificates and ACME certificates.
// Build it with NewTerminator, use TLSConfig for listeners, call Reload on
// SIGHUP and Close at shutdown.
type Terminator struct {
	log        zerolog.Logger
	cfg        TermConfig
	tlsConfig  *tls.Config
	challenge  *tls.Config // for TLS-ALPN-01 challenge handshakes
	warnings   []string
	cache      *certmagic.Cache
	magic      *certmagic.Config
	acmeNames  []string
	hasACME    bool
	static     atomic.Pointer[staticSet]
	reloadMu   sync.Mutex
	ctx        context.Context
	cancel     context.CancelFunc
	closeOnce  sync.Once
	staticTags []string
}

type staticSet struct {
	certs  []*staticCert
	byName map[string]*staticCert
}

type staticCert struct {
	pair  CertPair
	hash  string // certmagic cache key
	name  string // a name to find it in the certmagic cache by
	cert  *tls.Certificate
	info  CertInfo
	names []string
}

// NewTerminator loads the static certificates, sets up certmagic (its zap
// logs go to log) and starts managing ACMENames in the background.
func NewTerminator(cfg TermConfig, log zerolog.Logger) (*Terminator, error) {
	minV, err := ParseTLSVersion(cfg.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if len(cfg.Certs) == 0 && len(cfg.ACMENames) == 0 {
		return nil, errors.New("tls: no certificate: give certificate files or ACME names")
	}
	if len(cfg.ACMENames) > 0 && cfg.ACME == nil {
		return nil, errors.New("tls: ACME names without an ACME configuration")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Terminator{
		log:        log,
		cfg:        cfg,
		ctx:        ctx,
		cancel:     cancel,
		staticTags: []string{"flashgate-static"},
	}
	for _, n := range cfg.ACMENames {
		t.acmeNames = append(t.acmeNames, normName(n))
	}
	if err := t.setupCertmagic(); err != nil {
		t.Close()
		return nil, err
	}
	set, err := t.loadStatic()
	if err != nil {
		t.Close()
		return nil, err
	}
	t.static.Store(set)

	t.tlsConfig = &tls.Config{
		MinVersion:     minV,
		NextProtos:     cfg.NextProtos,
		GetCertificate: t.getCertificate,
	}
	if minV < tls.VersionTLS12 {
		t.tlsConfig.CipherSuites = LegacyCipherSuites()
		w := fmt.Sprintf("tls min_version %s: TLS 1.0/1.1 and legacy cipher suites (CBC, RSA key exchange) are enabled for old AIR clients", cfg.MinVersion)
		t.warnings = append(t.warnings, w)
		log.Warn().Str("min_version", cfg.MinVersion).Msg(w)
	}
	if t.hasACME && !cfg.ACME.DisableTLSALPNChallenge {
		t.challenge = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{acmez.ACMETLS1Protocol},
			GetCertificate: t.magic.GetCertificate,
		}
		t.tlsConfig.GetConfigForClient = t.configForClient
	}
	if t.hasACME && len(t.acmeNames) > 0 {
		if err := t.magic.ManageAsync(t.ctx, cfg.ACMENames); err != nil {
			t.Close()
			return nil, fmt.Errorf("tls: acme: manage %v: %w", cfg.ACMENames, err)
		}
	}
	return t, nil
}

func (t *Terminator) setupCertmagic() error {
	zl := NewZapLogger(t.log.With().Str("component", "certmagic").Logger())
	var magic *certmagic.Config
	t.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	var storage certmagic.Storage = newMemStorage()
	a := t.cfg.ACME
	if a != nil {
		switch {
		case a.Storage != nil:
			storage = a.Storage
		case a.StoragePath != "":
			storage = &certmagic.FileStorage{Path: a.StoragePath}
		default:
			t.log.Warn().Msg("tls: acme has no storage: certificates are kept in memory only and obtained again at every start")
		}
	}
	mc := certmagic.Config{Storage: storage, Logger: zl}
	if len(t.acmeNames) > 0 {
		mc.DefaultServerName = t.acmeNames[0]
	}
	magic = certmagic.New(t.cache, mc)
	t.magic = magic
	if a == nil {
		magic.Issuers = nil
		return nil
	}
	t.hasACME = true
	var roots *x509.CertPool
	if a.CARoot != "" {
		extra, err := readPEMCerts(a.CARoot)
		if err != nil {
			return fmt.Errorf("tls: acme ca_root: %w", err)
		}
		roots, err = x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		for _, c := range extra {
			roots.AddCert(c)
		}
	}
	issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      a.CA,
		Email:                   a.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    a.DisableHTTPChallenge,
		DisableTLSALPNChallenge: a.DisableTLSALPNChallenge,
		ListenHost:              a.ListenHost,
		AltHTTPPort:             a.AltHTTPPort,
		AltTLSALPNPort:          a.AltTLSALPNPort,
		Logger:                  zl,
	})
	magic.Issuers = []certmagic.Issuer{issuer}
	return nil
}

// readPEMCerts reads every certificate of a PEM file.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return out, nil
}

// loadStatic reads every certificate pair and puts it in the certmagic
// cache, which staples OCSP for it (and keeps the staple fresh) as it does
// for managed certificates.
func (t *Terminator) loadStatic() (*staticSet, error) {
	set := &staticSet{byName: map[string]*staticCert{}}
	for _, p := range t.cfg.Certs {
		tc, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return set, fmt.Errorf("tls: certificate %s: %w", p.CertFile, err)
		}
		leaf := tc.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(tc.Certificate[0]); err != nil {
				return set, fmt.Errorf("tls: certificate %s: %w", p.CertFile, err)
			}
			tc.Leaf = leaf
		}
		names := certNames(leaf)
		if len(names) == 0 {
			return set, fmt.Errorf("tls: certificate %s names no host (no DNS or IP SAN, no CN)", p.CertFile)
		}
		hash, err := t.magic.CacheUnmanagedTLSCertificate(t.ctx, tc, t.staticTags)
		if err != nil {
			return set, fmt.Errorf("tls: certificate %s: %w", p.CertFile, err)
		}
		sc := &staticCert{
			pair:  p,
			hash:  hash,
			name:  names[0],
			cert:  &tc,
			names: names,
			info: CertInfo{
				Names:    names,
				Issuer:   leaf.Issuer.String(),
				NotAfter: leaf.NotAfter,
				Source:   "file:" + p.CertFile,
			},
		}
		if time.Now().After(leaf.NotAfter) {
			t.log.Warn().Str("cert_file", p.CertFile).Time("not_after", leaf.NotAfter).Msg("tls: certificate has expired")
		}
		set.certs = append(set.certs, sc)
		for _, n := range names {
			if _, dup := set.byName[n]; !dup {
				set.byName[n] = sc
			}
		}
	}
	return set, nil
}

func certNames(c *x509.Certificate) []string {
	var names []string
	for _, n := range c.DNSNames {
		names = append(names, normName(n))
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, normName(c.Subject.CommonName))
	}
	return names
}

func normName(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

// match finds the static certificate for name: exact, then a wildcard for
// its first label.
func (s *staticSet) match(name string) *staticCert {
	if sc := s.byName[name]; sc != nil {
		return sc
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return s.byName["*"+name[i:]]
	}
	return nil
}

func (t *Terminator) acmeMatch(name string) bool {
	for _, n := range t.acmeNames {
		if n == name || strings.HasPrefix(n, "*.") && strings.HasSuffix(name, n[1:]) && !strings.Contains(name[:len(name)-len(n)+1], ".") {
			return true
		}
	}
	return false
}

func (t *Terminator) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol {
		return t.challenge, nil
	}
	return nil, nil
}

func (t *Terminator) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normName(hello.ServerName)
	if name == "" && hello.Conn != nil {
		// No SNI: a certificate for the address the client dialed, if any.
		if host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String()); err == nil {
			if sc := t.static.Load().byName[host]; sc != nil {
				return t.current(sc), nil
			}
		}
	}
	set := t.static.Load()
	if name != "" {
		if sc := set.match(name); sc != nil {
			return t.current(sc), nil
		}
		if t.hasACME && t.acmeMatch(name) {
			return t.magic.GetCertificate(hello)
		}
	}
	if len(set.certs) > 0 {
		return t.current(set.certs[0]), nil
	}
	if t.hasACME {
		return t.magic.GetCertificate(hello)
	}
	return nil, fmt.Errorf("tls: no certificate for %q", name)
}

// current returns the cached copy of sc from certmagic (with its current
// OCSP staple), or the loaded one.
func (t *Terminator) current(sc *staticCert) *tls.Certificate {
	for _, c := range t.cache.AllMatchingCertificates(sc.name) {
		if c.Hash() == sc.hash {
			tc := c.Certificate
			return &tc
		}
	}
	return sc.cert
}

// TLSConfig returns a tls.Config for a listener. It is a clone: change it
// freely; certificates it serves follow Reload.
func (t *Terminator) TLSConfig() *tls.Config { return t.tlsConfig.Clone() }

// Warnings returns the configuration warnings given at start (e.g. legacy
// TLS versions enabled).
func (t *Terminator) Warnings() []string { return slices.Clone(t.warnings) }

// Reload reads the static certificate files again. On error the old
// certificates stay in use. ACME certificates are renewed by certmagic on
// its own and are not affected.
func (t *Terminator) Reload() error {
	t.reloadMu.Lock()
	defer t.reloadMu.Unlock()
	old := t.static.Load()
	set, err := t.loadStatic()
	if err != nil {
		// Drop what the failed load added to the cache, keep the old.
		t.removeUnused(set, old)
		return err
	}
	t.static.Store(set)
	t.removeUnused(old, set)
	t.log.Info().Int("certificates", len(set.certs)).Msg("tls: certificates reloaded")
	return nil
}

// removeUnused removes from the cache the certificates of from that keep
// does not use.
func (t *Terminator) removeUnused(from, keep *staticSet) {
	if from == nil {
		return
	}
	var drop []string
	for _, sc := range from.certs {
		used := false
		for _, k := range keep.certs {
			if k.hash == sc.hash {
				used = true
				break
			}
		}
		if !used {
			drop = append(drop, sc.hash)
		}
	}
	if len(drop) > 0 {
		t.cache.Remove(drop)
	}
}

// Certificates lists the served certificates: the static ones in order,
// then the ACME ones obtained so far.
func (t *Terminator) Certificates() []CertInfo {
	var out []CertInfo
	seen := map[string]bool{}
	for _, sc := range t.static.Load().certs {
		out = append(out, sc.info)
		seen[sc.hash] = true
	}
	for _, n := range t.acmeNames {
		for _, c := range t.cache.AllMatchingCertificates(n) {
			if seen[c.Hash()] || c.Leaf == nil {
				continue
			}
			seen[c.Hash()] = true
			out = append(out, CertInfo{
				Names:    slices.Clone(c.Names),
				Issuer:   c.Leaf.Issuer.String(),
				NotAfter: c.Leaf.NotAfter,
				Source:   "acme",
			})
		}
	}
	return out
}

// Close stops certmagic's background work (renewals, OCSP refresh).
func (t *Terminator) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		if t.cache != nil {
			t.cache.Stop()
		}
	})
	return nil
}
