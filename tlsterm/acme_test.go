package tlsterm

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// pebbleNewOrderPath is Pebble's new-order endpoint (wfe's newOrderPath,
// unexported): one POST there is one certificate order.
const pebbleNewOrderPath = "/order-plz"

// startPebble runs Pebble's ACME server in-process behind httptest, with
// challenge validation switched off (every challenge is valid at once).
// It returns the directory URL, a PEM file of the API's certificate and a
// count of the new-order requests Pebble saw.
func startPebble(t *testing.T) (dirURL, apiRoot string, orders *atomic.Int64) {
	t.Helper()
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "100")
	logger := log.New(io.Discard, "pebble ", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Lmicroseconds)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "default profile"},
	})
	validator := va.New(logger, 0, 0, false, "", store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	orders = new(atomic.Int64)
	h := front.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == pebbleNewOrderPath {
			orders.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	apiRoot = filepath.Join(t.TempDir(), "pebble-api.pem")
	if err := os.WriteFile(apiRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + wfe.DirectoryPath, apiRoot, orders
}

// freePort returns a loopback port nothing listens on (just released).
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTerminatorACMEPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME issuance against in-process Pebble takes a few seconds")
	}
	dirURL, apiRoot, _ := startPebble(t)
	logger, buf := testLogger(t)
	const name = "chat.flashgate.example"
	term, err := NewTerminator(TermConfig{
		ACMENames: []string{name},
		ACME: &ACMEConfig{
			Email:                "ops@flashgate.example",
			CA:                   dirURL,
			CARoot:               apiRoot,
			StoragePath:          t.TempDir(),
			DisableHTTPChallenge: true,
			// Pebble validates nothing here; certmagic still starts its
			// TLS-ALPN solver, so give it a free loopback port.
			ListenHost:     "127.0.0.1",
			AltTLSALPNPort: freePort(t),
		},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	addr := serveTerminator(t, term)

	deadline := time.Now().Add(60 * time.Second)
	var issuer string
	for time.Now().Before(deadline) {
		infos := term.Certificates()
		if len(infos) == 1 && infos[0].Source == "acme" {
			issuer = infos[0].Issuer
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if issuer == "" {
		t.Fatalf("no certificate from Pebble within 60s; log:\n%s", tail(buf.String(), 4000))
	}
	cs := handshake(t, addr, name, nil)
	leaf := cs.PeerCertificates[0]
	if !strings.Contains(strings.ToLower(leaf.Issuer.String()), "pebble") || leaf.DNSNames[0] != name {
		t.Fatalf("served %v issued by %s", leaf.DNSNames, leaf.Issuer)
	}
	if leaf.Issuer.String() != issuer {
		t.Errorf("Certificates() issuer %q, served %q", issuer, leaf.Issuer)
	}
	// certmagic's logs came through the zerolog logger.
	if !strings.Contains(buf.String(), `"component":"certmagic"`) {
		t.Errorf("no certmagic log lines in the zerolog output")
	}
	t.Logf("issued by %s, not after %s (%d bytes of log)", leaf.Issuer, leaf.NotAfter, len(buf.String()))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
