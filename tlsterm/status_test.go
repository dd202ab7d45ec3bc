package tlsterm

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

// testPKI is the common set of certificates for classification tests.
type testPKI struct {
	root, inter, other *testCert
}

func newTestPKI(t testing.TB) *testPKI {
	root := mkCert(t, "Test Root", true, nil)
	return &testPKI{
		root:  root,
		inter: mkCert(t, "Test Intermediate", true, root),
		other: mkCert(t, "Other Root", true, nil),
	}
}

func TestClassify(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now()
	good := mkCert(t, "good.test", false, p.inter)
	expired := mkCert(t, "good.test", false, p.inter, validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	future := mkCert(t, "good.test", false, p.inter, validity(now.Add(24*time.Hour), now.Add(48*time.Hour)))
	self := mkCert(t, "good.test", false, nil)
	foreign := mkCert(t, "good.test", false, p.other)
	nonCA := mkCert(t, "Not A CA", false, p.root, notCA())
	viaNonCA := mkCert(t, "good.test", false, nonCA)
	plz := mkCert(t, "PathLen Zero", true, p.root, pathLenZero())
	under := mkCert(t, "Under PathLen", true, plz)
	viaPLZ := mkCert(t, "good.test", false, under)
	oldInter := mkCert(t, "Old Intermediate", true, p.root, validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	viaOld := mkCert(t, "good.test", false, oldInter)
	clientOnly := mkCert(t, "good.test", false, p.inter, extUsage(x509.ExtKeyUsageClientAuth))
	constrained := mkCert(t, "Constrained", true, p.root, permittedDNS("allowed.test"))
	outside := mkCert(t, "good.test", false, constrained)

	cases := []struct {
		name   string
		chain  []*x509.Certificate
		server string
		want   Status
	}{
		{"valid", chainOf(good, p.inter), "good.test", Trusted},
		{"valid, no name check", chainOf(good, p.inter), "", Trusted},
		{"expired", chainOf(expired, p.inter), "good.test", Expired},
		{"not yet valid", chainOf(future, p.inter), "good.test", NotYetValid},
		{"wrong host", chainOf(good, p.inter), "other.test", PrincipalMismatch},
		{"self-signed", chainOf(self), "good.test", UntrustedSigners},
		{"unknown root", chainOf(foreign), "good.test", UntrustedSigners},
		{"unknown root, root presented", chainOf(foreign, p.other), "good.test", UntrustedSigners},
		{"missing intermediate", chainOf(good), "good.test", UntrustedSigners},
		{"through non-CA", chainOf(viaNonCA, nonCA), "good.test", InvalidChain},
		{"path length exceeded", chainOf(viaPLZ, under, plz), "good.test", InvalidChain},
		{"path length exceeded, unordered", chainOf(viaPLZ, plz, under), "good.test", InvalidChain},
		{"expired intermediate", chainOf(viaOld, oldInter), "good.test", Expired},
		{"name constraints", chainOf(outside, constrained), "good.test", InvalidChain},
		{"client-auth only", chainOf(clientOnly, p.inter), "good.test", Invalid},
		{"empty chain", nil, "good.test", Invalid},
		{"nil leaf", []*x509.Certificate{nil}, "good.test", Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, d := Classify(context.Background(), tc.chain, VerifyOptions{
				ServerName: tc.server,
				Roots:      pool(p.root),
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
	leaf := mkCert(t, "ip", false, p.root, func(c *x509.Certificate) {
		c.DNSNames = nil
		c.IPAddresses = append(c.IPAddresses, []byte{127, 0, 0, 1})
	})
	st, d := Classify(context.Background(), chainOf(leaf), VerifyOptions{ServerName: "127.0.0.1", Roots: pool(p.root), Revocation: RevocationOff})
	if st != Trusted {
		t.Fatalf("%s: %s", st, d.Reason)
	}
	st, _ = Classify(context.Background(), chainOf(leaf), VerifyOptions{ServerName: "127.0.0.2", Roots: pool(p.root), Revocation: RevocationOff})
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
	good := mkCert(b, "good.test", false, p.inter)
	chain := chainOf(good, p.inter)
	opts := VerifyOptions{ServerName: "good.test", Roots: pool(p.root), Revocation: RevocationOff}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if st, d := Classify(ctx, chain, opts); st != Trusted {
			b.Fatalf("%s: %s", st, d.Reason)
		}
	}
}
