package gateway

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a DNS server on loopback UDP that knows one name, whose
// IPv4 address a test can change: the resolver's answers change as a real
// zone's would.
type dnsServer struct {
	conn    *net.UDPConn
	name    string // fully qualified
	mu      sync.Mutex
	a       netip.Addr
	queries atomic.Int64 // A queries for name
}

func startDNS(t *testing.T, name string, a netip.Addr) *dnsServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{conn: c, name: name + ".", a: a}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if reply, err := d.answer(buf[:n]); err == nil {
				_, _ = c.WriteToUDPAddrPort(reply, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return d
}

func (d *dnsServer) set(a netip.Addr) {
	d.mu.Lock()
	d.a = a
	d.mu.Unlock()
}

// answer builds the reply to one query: the address for an A question on
// the name, no records for other types on it, NXDOMAIN for other names.
func (d *dnsServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	known := q.Name.String() == d.name
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if known && q.Type == dnsmessage.TypeA {
		d.queries.Add(1)
		d.mu.Lock()
		a := d.a
		d.mu.Unlock()
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		if err := b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET},
			dnsmessage.AResource{A: a.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// resolver asks d only (no /etc/hosts entry has the test's name).
func (d *dnsServer) resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", addr)
	}}
}

// twoAddressBackends listens on 127.0.0.2 and 127.0.0.3 with the same
// port; each connection reads the listener's name.
func twoAddressBackends(t *testing.T) (port string, first, second net.Listener) {
	t.Helper()
	for range 20 {
		a, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("no 127.0.0.2 here: %v", err)
		}
		_, port, _ = net.SplitHostPort(a.Addr().String())
		b, err := net.Listen("tcp", "127.0.0.3:"+port)
		if err != nil {
			a.Close()
			continue
		}
		for ln, name := range map[net.Listener]string{a: "A", b: "B"} {
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, name)
					c.Close()
				}
			}()
			t.Cleanup(func() { ln.Close() })
		}
		return port, a, b
	}
	t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	return "", nil, nil
}

// TestEventedHostNameMoved: when a name's backend moves to another address,
// the loop's failed dial makes the resolver look again at once (not at
// the next resolveEvery), and a burst of failures makes at most one extra
// lookup per resolveMinGap.
func TestEventedHostNameMoved(t *testing.T) {
	port, first, _ := twoAddressBackends(t)
	dns := startDNS(t, "backend.flashgate.test", netip.MustParseAddr("127.0.0.2"))
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{"backend.flashgate.test:" + port}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "b")}
	gw, _, _ := startGateway(t, cfg, func(g *Gateway) { g.resolver = dns.resolver() })
	if gw.loops == nil {
		t.Skip("no event loops")
	}
	b := gw.listeners[0].route.Load().backend
	waitFor(t, b.loopReady, "the name resolved")
	if got := whoAnswers(t, gw, "bin"); got != "A" {
		t.Fatalf("first backend: got %q", got)
	}

	// The backend moves: the old address refuses, the zone names the new one.
	first.Close()
	dns.set(netip.MustParseAddr("127.0.0.3"))
	before := dns.queries.Load()
	start := time.Now()
	for i := 0; i < 30 && time.Since(start) < 500*time.Millisecond; i++ {
		if got := whoAnswers(t, gw, "bin"); got == "B" {
			break
		}
	}
	// At most the lookup at once and one after resolveMinGap in the burst;
	// A questions may be retried once by the resolver.
	if n := dns.queries.Load() - before; n > 2*int64(time.Since(start)/resolveMinGap+2) {
		t.Errorf("%d A queries in a burst of failed dials over %s", n, time.Since(start))
	}
	deadline := time.Now().Add(5 * time.Second) // far below resolveEvery
	for {
		got := whoAnswers(t, gw, "bin")
		if got == "B" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q 5 s after the backend moved (resolved: %v); the next periodic lookup is at %s",
				got, b.servers[0].addrs(), resolveEvery)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := b.servers[0].addrs(); len(got) != 1 || got[0].String() != "127.0.0.3:"+port {
		t.Fatalf("resolved %v", got)
	}
}
