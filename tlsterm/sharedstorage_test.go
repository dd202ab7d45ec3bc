package tlsterm

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/flashgate/flashgate/tlsterm/redisstore"
	"github.com/flashgate/flashgate/tlsterm/redisstore/redistest"
)

// pebbleNewOrderPath is Pebble's new-order endpoint (wfe's newOrderPath,
// unexported): one POST there is one certificate order.
const pebbleNewOrderPath = "/order-plz"

// startCountingPebble is startPebble with the WFE handler wrapped to count
// the new-order requests.
func startCountingPebble(t *testing.T) (dirURL, apiRoot string, orders *atomic.Int64) {
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

// TestSharedStorageOrdersOnce: two instances (two Terminators, each with
// its own certmagic cache and its own storage client) share one storage
// and start managing the same name at the same moment. The shared lock lets
// one order the certificate; the other waits, finds it in storage and
// serves it: Pebble sees one order, and both serve the same serial.
func TestSharedStorageOrdersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME issuance against in-process Pebble takes a few seconds")
	}
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		testSharedStorage(t, func(*testing.T) certmagic.Storage { return &certmagic.FileStorage{Path: dir} })
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		testSharedStorage(t, func(t *testing.T) certmagic.Storage {
			st, err := redisstore.NewStorage(redisstore.Config{Address: srv.Addr, KeyPrefix: "fg"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

func testSharedStorage(t *testing.T, storage func(*testing.T) certmagic.Storage) {
	dirURL, apiRoot, orders := startCountingPebble(t)
	const name = "chat.flashgate.example"
	const instances = 2
	terms := make([]*Terminator, instances)
	addrs := make([]string, instances)
	bufs := make([]*syncBuffer, instances)
	stores := make([]certmagic.Storage, instances)
	for i := range instances {
		stores[i] = storage(t)
	}
	// Both start together: NewTerminator begins managing the name at once.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range instances {
		logger, buf := testLogger(t)
		bufs[i] = buf
		port := freePort(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			term, err := NewTerminator(TermConfig{
				ACMENames: []string{name},
				ACME: &ACMEConfig{
					Email:                "ops@flashgate.example",
					CA:                   dirURL,
					CARoot:               apiRoot,
					Storage:              stores[i],
					DisableHTTPChallenge: true,
					ListenHost:           "127.0.0.1",
					AltTLSALPNPort:       port,
				},
			}, logger.With().Int("instance", i).Logger())
			if err != nil {
				t.Error(err)
				return
			}
			terms[i] = term
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, term := range terms {
		t.Cleanup(func() { term.Close() })
		addrs[i] = serveTerminator(t, term)
	}

	// Each instance is also asked for the name by a client right away (a
	// handshake with SNI), while the order may still be running; those
	// early handshakes may fail, later ones must not.
	deadline := time.Now().Add(90 * time.Second)
	serials := make([]string, instances)
	for i := range instances {
		for serials[i] == "" {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d serves no certificate for %s after 90s (orders %d); log:\n%s", i, name, orders.Load(), tail(bufs[i].String(), 4000))
			}
			if cs, err := tryHandshake(addrs[i], name); err == nil {
				leaf := cs.PeerCertificates[0]
				if leaf.DNSNames[0] != name {
					t.Fatalf("instance %d served %v", i, leaf.DNSNames)
				}
				serials[i] = leaf.SerialNumber.String()
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if serials[0] != serials[1] {
		t.Errorf("instances serve different certificates: serials %s and %s", serials[0], serials[1])
	}
	// Give a straggler a moment to order a second time, if it were going to.
	time.Sleep(500 * time.Millisecond)
	if n := orders.Load(); n != 1 {
		t.Errorf("Pebble saw %d new-order requests, want 1", n)
	}
	keys, err := stores[0].List(context.Background(), "certificates", true)
	if err != nil || len(keys) == 0 {
		t.Errorf("storage lists no certificates: %v %v", keys, err)
	}
	// How each instance got it: both took part in the race for the lock;
	// the one that did not order found the certificate in storage.
	obtained := 0
	for i, buf := range bufs {
		log := buf.String()
		if strings.Contains(log, "certificate obtained successfully") {
			obtained++
		}
		t.Logf("instance %d: acquiring lock %v, lock acquired %v, already in storage %v, obtained %v", i,
			strings.Contains(log, "acquiring lock"), strings.Contains(log, "lock acquired"),
			strings.Contains(log, "certificate already exists in storage"), strings.Contains(log, "certificate obtained successfully"))
	}
	if obtained != 1 {
		t.Errorf("%d instances logged an obtained certificate, want 1", obtained)
	}
	t.Logf("orders %d, serial %s, %d keys under certificates/", orders.Load(), serials[0], len(keys))
}

// tryHandshake connects with SNI name, without verifying (Pebble's roots
// are not trusted here), and returns the handshake state.
func tryHandshake(addr, name string) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}
