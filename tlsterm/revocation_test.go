package tlsterm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

func TestCRLCachedUntilNextUpdate(t *testing.T) {
	root := tlstest.NewCert(t, "Root", true, nil)
	crl := tlstest.NewCRLServer(t, root)
	a := tlstest.NewCert(t, "a.test", false, root, tlstest.CRL(crl.URL))
	b := tlstest.NewCert(t, "b.test", false, root, tlstest.CRL(crl.URL))
	crl.Revoke(b)
	rc := NewRevocationChecker(RevocationOptions{})
	ctx := context.Background()
	now := time.Now()
	if r := rc.Check(ctx, a.Cert, root.Cert, nil, now); r.Answer != NotRevoked {
		t.Fatalf("a: %s", r)
	}
	if r := rc.Check(ctx, b.Cert, root.Cert, nil, now); r.Answer != IsRevoked {
		t.Fatalf("b: %s", r)
	}
	if n := crl.Requests.Load(); n != 1 {
		t.Fatalf("%d CRL fetches, want 1 (cached)", n)
	}
	// After NextUpdate (an hour), the CRL is fetched again (and the
	// server's fresh one is stale at that fake time: no answer).
	if r := rc.Check(ctx, a.Cert, root.Cert, nil, now.Add(2*time.Hour)); r.Answer != NoAnswer || !strings.Contains(r.Reason, "stale") {
		t.Fatalf("a later: %s", r)
	}
	if n := crl.Requests.Load(); n != 2 {
		t.Fatalf("%d CRL fetches, want 2", n)
	}
}

func TestCRLWrongSigner(t *testing.T) {
	root := tlstest.NewCert(t, "Root", true, nil)
	impostor := tlstest.NewCert(t, "Root", true, nil) // same name, other key
	crl := tlstest.NewCRLServer(t, impostor)
	a := tlstest.NewCert(t, "a.test", false, root, tlstest.CRL(crl.URL))
	crl.Revoke(a)
	r := NewRevocationChecker(RevocationOptions{}).Check(context.Background(), a.Cert, root.Cert, nil, time.Now())
	if r.Answer != NoAnswer || !strings.Contains(r.Reason, "signature") {
		t.Fatalf("%s", r)
	}
}

func TestCRLSizeCap(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, 4096))
	}))
	t.Cleanup(big.Close)
	root := tlstest.NewCert(t, "Root", true, nil)
	a := tlstest.NewCert(t, "a.test", false, root, tlstest.CRL(big.URL))
	r := NewRevocationChecker(RevocationOptions{MaxCRLSize: 1024}).Check(context.Background(), a.Cert, root.Cert, nil, time.Now())
	if r.Answer != NoAnswer || !strings.Contains(r.Reason, "larger than") {
		t.Fatalf("%s", r)
	}
}

func TestOCSPTimeoutAndFailureCache(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	root := tlstest.NewCert(t, "Root", true, nil)
	a := tlstest.NewCert(t, "a.test", false, root, tlstest.OCSP(hang.URL))
	rc := NewRevocationChecker(RevocationOptions{Timeout: 200 * time.Millisecond})
	start := time.Now()
	r := rc.Check(context.Background(), a.Cert, root.Cert, nil, time.Now())
	if r.Answer != NoAnswer {
		t.Fatalf("%s", r)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %s", el)
	}
	// The failure is remembered: no second wait.
	start = time.Now()
	_ = rc.Check(context.Background(), a.Cert, root.Cert, nil, time.Now())
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("second check took %s", el)
	}
}

func TestOCSPStapleForOtherCertIgnored(t *testing.T) {
	root := tlstest.NewCert(t, "Root", true, nil)
	ocsp := tlstest.NewOCSPResponder(t, root)
	a := tlstest.NewCert(t, "a.test", false, root, tlstest.OCSP(ocsp.URL))
	b := tlstest.NewCert(t, "b.test", false, root)
	ocsp.Revoke(a)
	// b's staple served with a: not used; the responder is asked instead.
	r := NewRevocationChecker(RevocationOptions{}).Check(context.Background(), a.Cert, root.Cert, ocsp.Staple(t, b), time.Now())
	if r.Answer != IsRevoked || !strings.HasPrefix(r.Source, "ocsp http") {
		t.Fatalf("%s", r)
	}
}

func TestParseModes(t *testing.T) {
	for in, want := range map[string]RevocationMode{"": RevocationSoft, "soft": RevocationSoft, "off": RevocationOff, "required": RevocationRequired} {
		if got, err := ParseRevocationMode(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseRevocationMode("hard"); err == nil {
		t.Error("hard accepted")
	}
	if r, err := ParseRequire(""); err != nil || r != RequireTrusted {
		t.Errorf("require default %q %v", r, err)
	}
	if _, err := ParseRequire("maybe"); err == nil {
		t.Error("maybe accepted")
	}
}
