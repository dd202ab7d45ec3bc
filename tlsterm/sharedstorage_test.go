package tlsterm

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/flashgate/flashgate/tlsterm/redisstore"
	"github.com/flashgate/flashgate/tlsterm/redisstore/redistest"
)

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
	dirURL, apiRoot, orders := startPebble(t)
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
