package tlsterm

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/zap"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// serveTerminator runs a loopback TLS listener with term's config; each
// connection gets "hello\n".
func serveTerminator(t testing.TB, term *Terminator) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tln := tls.NewListener(ln, term.TLSConfig())
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
					return
				}
				_, _ = c.Write([]byte("hello\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

func testLogger(t testing.TB) (zerolog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return zerolog.New(buf).Level(zerolog.DebugLevel), buf
}

// handshake connects with SNI name and returns the served leaf's names.
func handshake(t testing.TB, addr, name string, roots *tlstest.Cert) tls.ConnectionState {
	t.Helper()
	cfg := &tls.Config{ServerName: name, InsecureSkipVerify: true}
	if roots != nil {
		cfg.InsecureSkipVerify = false
		cfg.RootCAs = tlstest.Pool(roots)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake %q: %v", name, err)
	}
	defer c.Close()
	return c.ConnectionState()
}

func TestTerminatorSNI(t *testing.T) {
	dir := t.TempDir()
	root := tlstest.NewCert(t, "Root", true, nil)
	chat := tlstest.NewCert(t, "chat.test", false, root)
	lobby := tlstest.NewCert(t, "lobby.test", false, root, tlstest.DNSNames("lobby.test", "*.games.test"))
	c1, k1 := tlstest.WritePair(t, dir, "chat", chat, root)
	c2, k2 := tlstest.WritePair(t, dir, "lobby", lobby)
	log, _ := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{c1, k1}, {c2, k2}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	addr := serveTerminator(t, term)
	for name, want := range map[string]string{
		"chat.test": "chat.test", "lobby.test": "lobby.test", "LOBBY.test.": "lobby.test",
		"x.games.test": "lobby.test", "a.b.games.test": "chat.test", "unknown.test": "chat.test", "": "chat.test",
	} {
		cs := handshake(t, addr, name, nil)
		if got := cs.PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q: got %s, want %s", name, got, want)
		}
	}
	// Verified end to end with the chain from the file.
	if cs := handshake(t, addr, "chat.test", root); len(cs.PeerCertificates) != 2 {
		t.Errorf("chain of %d", len(cs.PeerCertificates))
	}
	if cs := handshake(t, addr, "", nil); cs.Version != tls.VersionTLS13 {
		t.Errorf("version %x", cs.Version)
	}
	infos := term.Certificates()
	if len(infos) != 2 || infos[0].Names[0] != "chat.test" || infos[1].Names[1] != "*.games.test" ||
		!strings.HasPrefix(infos[0].Source, "file:") || infos[0].NotAfter != chat.Cert.NotAfter || !strings.Contains(infos[0].Issuer, "Root") {
		t.Errorf("certificates %+v", infos)
	}
	if len(term.Warnings()) != 0 {
		t.Errorf("warnings %v", term.Warnings())
	}
}

func TestTerminatorReload(t *testing.T) {
	dir := t.TempDir()
	root := tlstest.NewCert(t, "Root", true, nil)
	first := tlstest.NewCert(t, "chat.test", false, root)
	cf, kf := tlstest.WritePair(t, dir, "chat", first)
	log, _ := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	addr := serveTerminator(t, term)
	if got := handshake(t, addr, "chat.test", nil).PeerCertificates[0].SerialNumber; got.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatal("first certificate not served")
	}
	second := tlstest.NewCert(t, "chat.test", false, root)
	tlstest.WritePair(t, dir, "chat", second)
	if err := term.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := handshake(t, addr, "chat.test", nil).PeerCertificates[0].SerialNumber; got.Cmp(second.Cert.SerialNumber) != 0 {
		t.Fatal("reloaded certificate not served")
	}
	// A broken file: Reload fails, the last good certificate stays.
	if err := os.WriteFile(cf, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := term.Reload(); err == nil {
		t.Fatal("broken file reloaded")
	}
	if got := handshake(t, addr, "chat.test", nil).PeerCertificates[0].SerialNumber; got.Cmp(second.Cert.SerialNumber) != 0 {
		t.Fatal("last good certificate not served after a failed reload")
	}
}

func TestTerminatorErrors(t *testing.T) {
	log, _ := testLogger(t)
	dir := t.TempDir()
	root := tlstest.NewCert(t, "Root", true, nil)
	cf, kf := tlstest.WritePair(t, dir, "x", tlstest.NewCert(t, "x.test", false, root))
	for name, cfg := range map[string]TermConfig{
		"nothing":          {},
		"missing file":     {Certs: []CertPair{{dir + "/nope.pem", dir + "/nope.key"}}},
		"key mismatch":     {Certs: []CertPair{{cf, writeOtherKey(t, dir)}}},
		"bad version":      {Certs: []CertPair{{cf, kf}}, MinVersion: "1.4"},
		"acme without cfg": {ACMENames: []string{"a.test"}},
	} {
		if term, err := NewTerminator(cfg, log); err == nil {
			term.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func writeOtherKey(t *testing.T, dir string) string {
	_, k := tlstest.WritePair(t, dir, "other", tlstest.NewCert(t, "other.test", false, nil))
	return k
}

func TestTerminatorLegacyConfig(t *testing.T) {
	dir := t.TempDir()
	cf, kf := tlstest.WritePair(t, dir, "x", tlstest.NewCert(t, "x.test", false, nil))
	log, buf := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}, MinVersion: "1.0"}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	cfg := term.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS10 || !contains(cfg.CipherSuites, tls.TLS_RSA_WITH_AES_128_CBC_SHA) ||
		!contains(cfg.CipherSuites, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA) {
		t.Fatalf("min %x suites %v", cfg.MinVersion, cfg.CipherSuites)
	}
	if len(term.Warnings()) != 1 || !strings.Contains(buf.String(), `"level":"warn"`) {
		t.Fatalf("warnings %v, log %s", term.Warnings(), buf.String())
	}
	// A Go client forced to TLS 1.0 gets through.
	addr := serveTerminator(t, term)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10})
	if err != nil {
		t.Fatal(err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS10 {
		t.Fatalf("version %x", v)
	}
	c.Close()
}

func TestTerminatorDefaultRefusesTLS10(t *testing.T) {
	dir := t.TempDir()
	cf, kf := tlstest.WritePair(t, dir, "x", tlstest.NewCert(t, "x.test", false, nil))
	log, _ := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	addr := serveTerminator(t, term)
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted by a default terminator")
	}
}

// TestTerminatorStaplesOCSP: a static certificate naming an OCSP responder
// is served with a staple fetched by certmagic, and the Dialer reads it.
func TestTerminatorStaplesOCSP(t *testing.T) {
	dir := t.TempDir()
	root := tlstest.NewCert(t, "Root", true, nil)
	resp := tlstest.NewOCSPResponder(t, root)
	leaf := tlstest.NewCert(t, "chat.test", false, root, tlstest.OCSP(resp.URL))
	cf, kf := tlstest.WritePair(t, dir, "chat", leaf, root)
	log, _ := testLogger(t)
	term, err := NewTerminator(TermConfig{Certs: []CertPair{{cf, kf}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	addr := serveTerminator(t, term)
	cs := handshake(t, addr, "chat.test", root)
	if len(cs.OCSPResponse) == 0 {
		t.Fatal("no OCSP staple")
	}
	before := resp.Requests.Load()
	d := &Dialer{ServerName: "chat.test", RootCAs: tlstest.Pool(root), Revocation: RevocationRequired}
	conn, res, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if res.Status != Trusted || !strings.Contains(res.Detail.Revocation, "ocsp staple") {
		t.Fatalf("%s %q", res.Status, res.Detail.Revocation)
	}
	if resp.Requests.Load() != before {
		t.Fatal("dialer asked the responder despite the staple")
	}
}

func TestZapBridge(t *testing.T) {
	log, buf := testLogger(t)
	z := NewZapLogger(log.Level(zerolog.InfoLevel)).Named("certmagic")
	z.Debug("hidden")
	z.With(zap.String("k", "v")).Warn("visible", zap.Int("n", 3))
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug passed an info logger: %s", out)
	}
	for _, want := range []string{`"level":"warn"`, `"message":"visible"`, `"k":"v"`, `"n":3`, `"logger":"certmagic"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
}

func contains(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
