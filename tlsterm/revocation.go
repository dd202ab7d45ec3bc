package tlsterm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
	"golang.org/x/sync/singleflight"
)

// RevocationMode says how much a revocation check matters.
type RevocationMode string

// Revocation modes. The zero value "" behaves as RevocationSoft.
const (
	// RevocationOff checks nothing.
	RevocationOff RevocationMode = "off"
	// RevocationSoft checks, and treats no answer as not revoked.
	RevocationSoft RevocationMode = "soft"
	// RevocationRequired checks, and treats no answer as status unknown.
	RevocationRequired RevocationMode = "required"
)

// ParseRevocationMode parses "off", "soft" or "required"; "" is soft.
func ParseRevocationMode(s string) (RevocationMode, error) {
	switch m := RevocationMode(s); m {
	case "", RevocationSoft:
		return RevocationSoft, nil
	case RevocationOff, RevocationRequired:
		return m, nil
	}
	return "", fmt.Errorf("revocation mode %q: want off, soft or required", s)
}

// RevocationOptions tune a RevocationChecker. Zero values mean defaults.
type RevocationOptions struct {
	// HTTPClient fetches OCSP answers and CRLs; nil means a private client.
	HTTPClient *http.Client
	// Timeout bounds each fetch (default 5s).
	Timeout time.Duration
	// MaxCRLSize caps a downloaded CRL (default 16 MiB); a larger one is
	// no answer.
	MaxCRLSize int64
	// MaxCacheEntries caps the cached OCSP answers and CRLs (default 1024).
	MaxCacheEntries int
	// FailureTTL is how long a failed fetch is remembered before it is
	// tried again (default 30s), so an unreachable responder does not cost
	// a timeout on every connection.
	FailureTTL time.Duration
}

const (
	defaultFetchTimeout = 5 * time.Second
	defaultMaxCRLSize   = 16 << 20
	maxOCSPSize         = 1 << 20
	defaultCacheEntries = 1024
	defaultFailureTTL   = 30 * time.Second
	defaultCRLLifetime  = time.Hour // when a CRL has no NextUpdate
	clockSkew           = 5 * time.Minute
)

// RevocationChecker answers "is this certificate revoked?" from a stapled
// OCSP response, the OCSP responders named in the certificate, or its CRL
// distribution points, in that order. CRLs and OCSP answers are cached until
// their NextUpdate. It is safe for concurrent use.
type RevocationChecker struct {
	client  *http.Client
	opts    RevocationOptions
	group   singleflight.Group
	mu      sync.Mutex
	crls    map[string]*crlEntry
	ocsps   map[string]*ocspEntry
	fetches int // number of HTTP fetches made, for tests
}

type crlEntry struct {
	revoked map[string]revokedEntry // serial bytes → entry
	until   time.Time               // use until (NextUpdate, or failure expiry)
	err     error                   // remembered failure
}

type revokedEntry struct {
	at     time.Time
	reason int
}

type ocspEntry struct {
	status    int
	revokedAt time.Time
	until     time.Time
	err       error
}

// NewRevocationChecker returns a checker with its own cache.
func NewRevocationChecker(o RevocationOptions) *RevocationChecker {
	if o.Timeout <= 0 {
		o.Timeout = defaultFetchTimeout
	}
	if o.MaxCRLSize <= 0 {
		o.MaxCRLSize = defaultMaxCRLSize
	}
	if o.MaxCacheEntries <= 0 {
		o.MaxCacheEntries = defaultCacheEntries
	}
	if o.FailureTTL <= 0 {
		o.FailureTTL = defaultFailureTTL
	}
	c := o.HTTPClient
	if c == nil {
		tr := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   o.Timeout,
			ResponseHeaderTimeout: o.Timeout,
		}
		c = &http.Client{Transport: tr, Timeout: o.Timeout}
	}
	return &RevocationChecker{
		client: c,
		opts:   o,
		crls:   make(map[string]*crlEntry),
		ocsps:  make(map[string]*ocspEntry),
	}
}

// RevocationAnswer is the outcome of one certificate's check.
type RevocationAnswer int

// Revocation answers.
const (
	NoAnswer RevocationAnswer = iota
	NotRevoked
	IsRevoked
)

// RevocationResult is what Check found.
type RevocationResult struct {
	Answer    RevocationAnswer
	Source    string    // "ocsp staple", "ocsp URL" or "crl URL"
	RevokedAt time.Time // when Answer is IsRevoked
	Reason    string    // for NoAnswer: why; for IsRevoked: the CRL/OCSP reason code
}

func (r RevocationResult) String() string {
	switch r.Answer {
	case NotRevoked:
		return "good (" + r.Source + ")"
	case IsRevoked:
		s := "revoked (" + r.Source + ") at " + r.RevokedAt.UTC().Format(time.RFC3339)
		if r.Reason != "" {
			s += ", reason " + r.Reason
		}
		return s
	}
	return "no answer: " + r.Reason
}

// Check looks up cert, issued by issuer, at time now: first the stapled OCSP
// response (if any), then each OCSP responder URL, then each CRL
// distribution point. The first definite answer wins.
func (rc *RevocationChecker) Check(ctx context.Context, cert, issuer *x509.Certificate, staple []byte, now time.Time) RevocationResult {
	if cert == nil || issuer == nil {
		return RevocationResult{Reason: "no certificate or issuer"}
	}
	if now.IsZero() {
		now = time.Now()
	}
	var why []string
	if len(staple) > 0 {
		r, err := parseOCSP(staple, cert, issuer, now)
		if err == nil && r.Status != ocsp.Unknown {
			return ocspResult(r.Status, r.RevokedAt, "ocsp staple")
		}
		why = append(why, fmt.Sprintf("ocsp staple: %v", errOr(err, "status unknown")))
	}
	for _, u := range cert.OCSPServer {
		if !httpURL(u) {
			continue
		}
		st, at, err := rc.ocspLookup(ctx, u, cert, issuer, now)
		if err == nil && st != ocsp.Unknown {
			return ocspResult(st, at, "ocsp "+u)
		}
		why = append(why, fmt.Sprintf("ocsp %s: %v", u, errOr(err, "status unknown")))
	}
	for _, u := range cert.CRLDistributionPoints {
		if !httpURL(u) {
			continue
		}
		e, err := rc.crlLookup(ctx, u, issuer, now)
		if err != nil {
			why = append(why, fmt.Sprintf("crl %s: %v", u, err))
			continue
		}
		if r, ok := e.revoked[string(cert.SerialNumber.Bytes())]; ok {
			res := RevocationResult{Answer: IsRevoked, Source: "crl " + u, RevokedAt: r.at}
			if r.reason != 0 {
				res.Reason = reasonName(r.reason)
			}
			return res
		}
		return RevocationResult{Answer: NotRevoked, Source: "crl " + u}
	}
	if len(why) == 0 {
		return RevocationResult{Reason: "certificate names no OCSP responder or CRL"}
	}
	return RevocationResult{Reason: strings.Join(why, "; ")}
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func httpURL(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

func ocspResult(st int, at time.Time, src string) RevocationResult {
	if st == ocsp.Revoked {
		return RevocationResult{Answer: IsRevoked, Source: src, RevokedAt: at}
	}
	return RevocationResult{Answer: NotRevoked, Source: src}
}

// parseOCSP parses and verifies an OCSP response for cert and checks that
// it is current.
func parseOCSP(der []byte, cert, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	r, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if r.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("response not valid before %s", r.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !r.NextUpdate.IsZero() && now.After(r.NextUpdate.Add(clockSkew)) {
		return nil, fmt.Errorf("response is stale since %s", r.NextUpdate.UTC().Format(time.RFC3339))
	}
	return r, nil
}

func (rc *RevocationChecker) ocspLookup(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (int, time.Time, error) {
	key := "ocsp|" + url + "|" + spkiKey(issuer) + "|" + cert.SerialNumber.Text(16)
	rc.mu.Lock()
	e := rc.ocsps[key]
	rc.mu.Unlock()
	if e != nil && now.Before(e.until) {
		return e.status, e.revokedAt, e.err
	}
	v, _, _ := rc.group.Do(key, func() (any, error) {
		e := &ocspEntry{}
		der, err := rc.fetchOCSP(ctx, url, cert, issuer)
		if err == nil {
			var r *ocsp.Response
			if r, err = parseOCSP(der, cert, issuer, now); err == nil {
				e.status, e.revokedAt, e.until = r.Status, r.RevokedAt, r.NextUpdate
			}
		}
		if err != nil {
			e = &ocspEntry{err: err, until: now.Add(rc.opts.FailureTTL)}
		}
		if !e.until.IsZero() {
			rc.mu.Lock()
			rc.ocsps[key] = e
			pruneLocked(rc.ocsps, rc.opts.MaxCacheEntries, now, func(e *ocspEntry) time.Time { return e.until })
			rc.mu.Unlock()
		}
		return e, nil
	})
	e = v.(*ocspEntry)
	return e.status, e.revokedAt, e.err
}

func (rc *RevocationChecker) fetchOCSP(ctx context.Context, url string, cert, issuer *x509.Certificate) ([]byte, error) {
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, fmt.Errorf("create request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, rc.opts.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	hr.Header.Set("Accept", "application/ocsp-response")
	return rc.get(hr, maxOCSPSize)
}

// get performs a request and reads at most max bytes of a 200 answer.
func (rc *RevocationChecker) get(req *http.Request, max int64) ([]byte, error) {
	rc.mu.Lock()
	rc.fetches++
	rc.mu.Unlock()
	resp, err := rc.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("answer larger than %d bytes", max)
	}
	return body, nil
}

func (rc *RevocationChecker) crlLookup(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (*crlEntry, error) {
	key := "crl|" + url + "|" + spkiKey(issuer)
	rc.mu.Lock()
	e := rc.crls[key]
	rc.mu.Unlock()
	if e != nil && now.Before(e.until) {
		return e, e.err
	}
	v, _, _ := rc.group.Do(key, func() (any, error) {
		e, err := rc.fetchCRL(ctx, url, issuer, now)
		if err != nil {
			e = &crlEntry{err: err, until: now.Add(rc.opts.FailureTTL)}
		}
		rc.mu.Lock()
		rc.crls[key] = e
		pruneLocked(rc.crls, rc.opts.MaxCacheEntries, now, func(e *crlEntry) time.Time { return e.until })
		rc.mu.Unlock()
		return e, nil
	})
	e = v.(*crlEntry)
	return e, e.err
}

func (rc *RevocationChecker) fetchCRL(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (*crlEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, rc.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	der, err := rc.get(req, rc.opts.MaxCRLSize)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(der), []byte("-----BEGIN")) {
		if b, _ := pem.Decode(bytes.TrimSpace(der)); b != nil {
			der = b.Bytes
		}
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if !bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		return nil, errors.New("CRL issuer is not the certificate's issuer")
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if rl.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("CRL not valid before %s", rl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	until := rl.NextUpdate
	if until.IsZero() {
		until = now.Add(defaultCRLLifetime)
	} else if now.After(until.Add(clockSkew)) {
		return nil, fmt.Errorf("CRL is stale since %s", until.UTC().Format(time.RFC3339))
	}
	e := &crlEntry{revoked: make(map[string]revokedEntry, len(rl.RevokedCertificateEntries)), until: until}
	for _, r := range rl.RevokedCertificateEntries {
		if r.SerialNumber == nil {
			continue
		}
		e.revoked[string(r.SerialNumber.Bytes())] = revokedEntry{at: r.RevocationTime, reason: r.ReasonCode}
	}
	return e, nil
}

// pruneLocked drops expired entries, then arbitrary ones, until m fits max.
func pruneLocked[E any](m map[string]E, max int, now time.Time, until func(E) time.Time) {
	if len(m) <= max {
		return
	}
	for k, e := range m {
		if !now.Before(until(e)) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) <= max {
			return
		}
		delete(m, k)
	}
}

func spkiKey(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:8])
}

func reasonName(code int) string {
	names := map[int]string{
		ocsp.KeyCompromise: "keyCompromise", ocsp.CACompromise: "cACompromise",
		ocsp.AffiliationChanged: "affiliationChanged", ocsp.Superseded: "superseded",
		ocsp.CessationOfOperation: "cessationOfOperation", ocsp.CertificateHold: "certificateHold",
		ocsp.RemoveFromCRL: "removeFromCRL", ocsp.PrivilegeWithdrawn: "privilegeWithdrawn",
		ocsp.AACompromise: "aACompromise",
	}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("code %d", code)
}

// checkChainRevocation checks every certificate of a verified chain below
// its root and folds the answers into a status and a summary.
//
// A revoked answer anywhere gives Revoked. In required mode, no answer for
// the leaf, or for an intermediate that names a revocation source, gives
// Unknown; an intermediate that names none is accepted.
func checkChainRevocation(ctx context.Context, chain []*x509.Certificate, opts VerifyOptions, now time.Time) (Status, string) {
	mode := opts.Revocation
	if mode == "" {
		mode = RevocationSoft
	}
	if mode == RevocationOff {
		return Trusted, "off"
	}
	rc := opts.Checker
	if rc == nil {
		rc = NewRevocationChecker(RevocationOptions{})
	}
	var notes []string
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		var staple []byte
		if i == 0 {
			staple = opts.OCSPStaple
		}
		hasSource := len(staple) > 0 || len(cert.OCSPServer) > 0 || len(cert.CRLDistributionPoints) > 0
		if i > 0 && !hasSource {
			continue
		}
		res := rc.Check(ctx, cert, issuer, staple, now)
		label := "leaf"
		if i > 0 {
			label = fmt.Sprintf("issuer %q", cert.Subject.String())
		}
		switch res.Answer {
		case IsRevoked:
			return Revoked, label + ": " + res.String()
		case NoAnswer:
			if mode == RevocationRequired {
				return Unknown, label + ": " + res.String()
			}
		}
		notes = append(notes, label+": "+res.String())
	}
	if len(notes) == 0 {
		return Trusted, "nothing to check"
	}
	return Trusted, strings.Join(notes, "; ")
}
