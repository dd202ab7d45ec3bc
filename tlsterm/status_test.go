package tlsterm

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// testPKI is the common set of certificates for classification tests.
type testPKI struct {
	root, inter, other *tlstest.Cert
}

func newTestPKI(t testing.TB) *testPKI {
	root := tlstest.NewCert(t, "Test Root", true, nil)
	return &testPKI{
		root:  root,
		inter: tlstest.NewCert(t, "Test Intermediate", true, root),
		other: tlstest.NewCert(t, "Other Root", true, nil),
	}
}

func TestClassify(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now()
	good := tlstest.NewCert(t, "good.test", false, p.inter)
	expired := tlstest.NewCert(t, "good.test", false, p.inter, tlstest.Validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	future := tlstest.NewCert(t, "good.test", false, p.inter, tlstest.Validity(now.Add(24*time.Hour), now.Add(48*time.Hour)))
	self := tlstest.NewCert(t, "good.test", false, nil)
	foreign := tlstest.NewCert(t, "good.test", false, p.other)
	nonCA := tlstest.NewCert(t, "Not A CA", false, p.root, tlstest.NotCA())
	viaNonCA := tlstest.NewCert(t, "good.test", false, nonCA)
	plz := tlstest.NewCert(t, "PathLen Zero", true, p.root, tlstest.PathLenZero())
	under := tlstest.NewCert(t, "Under PathLen", true, plz)
	viaPLZ := tlstest.NewCert(t, "good.test", false, under)
	oldInter := tlstest.NewCert(t, "Old Intermediate", true, p.root, tlstest.Validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	viaOld := tlstest.NewCert(t, "good.test", false, oldInter)
	clientOnly := tlstest.NewCert(t, "good.test", false, p.inter, tlstest.ExtUsage(x509.ExtKeyUsageClientAuth))
	constrained := tlstest.NewCert(t, "Constrained", true, p.root, tlstest.PermittedDNS("allowed.test"))
	outside := tlstest.NewCert(t, "good.test", false, constrained)

	cases := []struct {
		name   string
		chain  []*x509.Certificate
		server string
		want   Status
	}{
		{"valid", tlstest.Chain(good, p.inter), "good.test", Trusted},
		{"valid, no name check", tlstest.Chain(good, p.inter), "", Trusted},
		{"expired", tlstest.Chain(expired, p.inter), "good.test", Expired},
		{"not yet valid", tlstest.Chain(future, p.inter), "good.test", NotYetValid},
		{"wrong host", tlstest.Chain(good, p.inter), "other.test", PrincipalMismatch},
		{"self-signed", tlstest.Chain(self), "good.test", UntrustedSigners},
		{"unknown root", tlstest.Chain(foreign), "good.test", UntrustedSigners},
		{"unknown root, root presented", tlstest.Chain(foreign, p.other), "good.test", UntrustedSigners},
		{"missing intermediate", tlstest.Chain(good), "good.test", UntrustedSigners},
		{"through non-CA", tlstest.Chain(viaNonCA, nonCA), "good.test", InvalidChain},
		{"path length exceeded", tlstest.Chain(viaPLZ, under, plz), "good.test", InvalidChain},
		{"path length exceeded, unordered", tlstest.Chain(viaPLZ, plz, under), "good.test", InvalidChain},
		{"expired intermediate", tlstest.Chain(viaOld, oldInter), "good.test", Expired},
		{"name constraints", tlstest.Chain(outside, constrained), "good.test", InvalidChain},
		{"client-auth only", tlstest.Chain(clientOnly, p.inter), "good.test", Invalid},
		{"empty chain", nil, "good.test", Invalid},
		{"nil leaf", []*x509.Certificate{nil}, "good.test", Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, d := Classify(context.Background(), tc.chain, VerifyOptions{
				ServerName: tc.server,
				Roots:      tlstest.Pool(p.root),
				Revocation: RevocationOff,
			})
			if st != tc.want {
				t.Fatalf("status %s, want %s (reason %q)", st, tc.want, d.Reason)
			}
			t.Logf("%s: %s", st, d.Reason)
			if st != Trusted && d.Reason == "" {
				t.Errorf("no reason for %s", st)
			}
			if st == Trusted && d.Reason != "" {
				t.Errorf("reason %q for trusted", d.Reason)
			}
			if len(tc.chain) > 0 && tc.chain[0] != nil && d.Subject != tc.chain[0].Subject.String() {
				t.Errorf("subject %q", d.Subject)
			}
		})
	}
}

func TestClassifyIPName(t *testing.T) {
	p := newTestPKI(t)
	leaf := tlstest.NewCert(t, "ip", false, p.root, func(c *x509.Certificate) {
		c.DNSNames = nil
		c.IPAddresses = append(c.IPAddresses, []byte{127, 0, 0, 1})
	})
	st, d := Classify(context.Background(), tlstest.Chain(leaf), VerifyOptions{ServerName: "127.0.0.1", Roots: tlstest.Pool(p.root), Revocation: RevocationOff})
	if st != Trusted {
		t.Fatalf("%s: %s", st, d.Reason)
	}
	st, _ = Classify(context.Background(), tlstest.Chain(leaf), VerifyOptions{ServerName: "127.0.0.2", Roots: tlstest.Pool(p.root), Revocation: RevocationOff})
	if st != PrincipalMismatch {
		t.Fatalf("%s, want principalMismatch", st)
	}
}

func TestStatusWords(t *testing.T) {
	want := "trusted expired notYetValid invalid invalidChain principalMismatch revoked unknown untrustedSigners"
	var got []string
	for _, s := range Statuses() {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		got = append(got, string(s))
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q", strings.Join(got, " "))
	}
	if Status("Trusted").Valid() {
		t.Fatal("wrong case accepted")
	}
}

func BenchmarkClassify(b *testing.B) {
	p := newTestPKI(b)
	good := tlstest.NewCert(b, "good.test", false, p.inter)
	chain := tlstest.Chain(good, p.inter)
	opts := VerifyOptions{ServerName: "good.test", Roots: tlstest.Pool(p.root), Revocation: RevocationOff}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if st, d := Classify(ctx, chain, opts); st != Trusted {
			b.Fatalf("%s: %s", st, d.Reason)
		}
	}
}
